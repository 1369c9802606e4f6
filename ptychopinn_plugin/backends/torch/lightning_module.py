"""``PtychoLightningModule``: the torch training loop around the shared autoencoder.

Automatic optimisation (so ``accumulate_grad_batches`` and gradient clipping are
Lightning's own — the original's manual optimisation broke accumulation, finding
EXEC-ACCUM-001); Adam with the TF hyper-parameters (lr from the execution config,
β = (0.9, 0.999), ε = 1e-7); losses of :mod:`.losses` on TensorDict batches.

Logged per epoch (batch-size weighted means, like Keras' epoch averages): ``train_loss``,
``val_loss`` and the per-output terms (``pred_intensity_loss`` …, ``val_`` prefixed for
validation).  The module also keeps its own exact epoch sums, which the monitor bridge
reads at epoch end to build the history without depending on logger internals.  Under
DDP the logged metrics are synchronised (``sync_dist``) and the epoch sums are summed
over the ranks, so every rank sees the same global means.

The run record (history, batches done, stop flag) lives on the module and travels in its
``state_dict`` as ``_extra_state``: with ``strategy='ddp_spawn'`` Lightning sends rank 0's
state dict back to the launching process, so the history comes back with the weights.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any, Optional

import torch
from lightning.pytorch import LightningModule
from tensordict import TensorDict

from ptychopinn_plugin.config import PyTorchExecutionConfig
from ptychopinn_plugin.util.progress import NonFiniteTrainingError, non_finite_loss_message

from .losses import LossSpec, batch_scale, pinn_loss_terms, supervised_loss_terms
from .models import Autoencoder, DiffractionToObj
from .schedules import build_scheduler

logger = logging.getLogger(__name__)

__all__ = ["ADAM_BETAS", "ADAM_EPSILON", "PtychoLightningModule"]

ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-7


class _EpochSums:
    """Batch-size weighted running sums of loss terms for one epoch."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.count = 0

    def add(self, terms: dict[str, torch.Tensor], batch: int) -> None:
        for key, value in terms.items():
            self.totals[key] = self.totals.get(key, 0.0) + float(value.detach()) * batch
        self.count += batch

    def means(self) -> dict[str, float]:
        return {key: value / self.count for key, value in self.totals.items()} if self.count else {}

    def reduced(self, strategy: Any) -> "_EpochSums":
        """The sums over every DDP rank (a collective: call it on all ranks)."""
        keys = sorted(self.totals)
        packed = torch.tensor([float(self.count)] + [self.totals[k] for k in keys], dtype=torch.float64)
        packed = strategy.reduce(packed.to(strategy.root_device), reduce_op="sum").cpu()
        out = _EpochSums()
        out.count = int(round(float(packed[0])))
        out.totals = {k: float(v) for k, v in zip(keys, packed[1:].tolist())}
        return out


def empty_record() -> dict[str, Any]:
    """The run record: per-epoch history, batches done, whether a stop was requested."""
    return {"history": {}, "batches_done": 0, "stop_requested": False}


class PtychoLightningModule(LightningModule):
    """Trains ``autoencoder`` (PINN or supervised) with the losses of physics §12.1 / §9."""

    def __init__(
        self,
        autoencoder: Autoencoder,
        diffraction_to_obj: DiffractionToObj,
        *,
        loss_spec: Optional[LossSpec],
        execution_config: PyTorchExecutionConfig,
        nepochs: int,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        # Shares every parameter with the autoencoder; kept out of the module tree so the
        # Lightning state dict has each weight once.
        self._diffraction_to_obj = [diffraction_to_obj]
        self.supervised = autoencoder.model_type == "supervised"
        if not self.supervised and loss_spec is None:
            raise ValueError("PtychoLightningModule: a LossSpec is required for the PINN")
        self.loss_spec = loss_spec
        self.execution_config = execution_config
        self.nepochs = int(nepochs)
        self.pin_memory = bool(pin_memory)
        self.train_sums = _EpochSums()
        self.val_sums = _EpochSums()
        self._epoch_lr: Optional[float] = None
        self.record: dict[str, Any] = empty_record()

    @property
    def diffraction_to_obj(self) -> DiffractionToObj:
        return self._diffraction_to_obj[0]

    # ------------------------------------------------------------------ forward / loss
    def forward(self, batch: TensorDict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        probe = batch.get("probe", None)
        return self.autoencoder(batch["images"], batch["coords_relative"], batch_scale(batch), probe=probe)

    # ------------------------------------------------------------------ run record (ddp_spawn transport)
    def get_extra_state(self) -> dict[str, Any]:
        return {
            "history": {k: [float(v) for v in vals] for k, vals in self.record["history"].items()},
            "batches_done": int(self.record["batches_done"]),
            "stop_requested": bool(self.record["stop_requested"]),
        }

    def set_extra_state(self, state: Any) -> None:
        if isinstance(state, dict) and "history" in state:
            self.record = {
                "history": {str(k): [float(v) for v in vals] for k, vals in dict(state["history"]).items()},
                "batches_done": int(state.get("batches_done", 0)),
                "stop_requested": bool(state.get("stop_requested", False)),
            }

    def _distributed(self) -> bool:
        trainer = self._trainer
        return trainer is not None and int(trainer.world_size) > 1

    def loss_terms(self, batch: TensorDict) -> dict[str, torch.Tensor]:
        """Loss terms of one batch (``loss`` = the weighted total)."""
        outputs = self(batch)
        if self.supervised:
            return supervised_loss_terms(outputs, batch)
        return pinn_loss_terms(outputs, batch, self.loss_spec)

    def _log_terms(self, terms: dict[str, torch.Tensor], prefix: str, batch: int) -> None:
        for key, value in terms.items():
            name = f"{prefix}_loss" if key == "loss" else (key if prefix == "train" else f"{prefix}_{key}")
            self.log(name, value.detach(), on_step=False, on_epoch=True, batch_size=batch, prog_bar=key == "loss",
                     sync_dist=self._distributed())

    def training_step(self, batch: TensorDict, batch_idx: int) -> torch.Tensor:
        terms = self.loss_terms(batch)
        loss = float(terms["loss"].detach())
        if not math.isfinite(loss):
            raise NonFiniteTrainingError(non_finite_loss_message(loss, batch_idx + 1, int(self.current_epoch)))
        b = int(batch.batch_size[0])
        self._log_terms(terms, "train", b)
        self.train_sums.add(terms, b)
        return terms["loss"]

    def validation_step(self, batch: TensorDict, batch_idx: int) -> None:
        terms = self.loss_terms(batch)
        b = int(batch.batch_size[0])
        self._log_terms(terms, "val", b)
        self.val_sums.add(terms, b)

    def setup(self, stage: str) -> None:
        # Runs in every training process (incl. spawned DDP ranks, where the caller's warning
        # filters do not reach): gradients of size-1 conv axes have "odd" but equivalent strides.
        warnings.filterwarnings("ignore", message=r"Grad strides do not match bucket view strides")
        warnings.filterwarnings("ignore", message=r".*overridden `transfer_batch_to_device`.*")

    def on_train_epoch_start(self) -> None:
        self.train_sums = _EpochSums()
        # Per-epoch schedulers step before the epoch-end hooks; record the lr used now.
        self._epoch_lr = float(self.trainer.optimizers[0].param_groups[0]["lr"]) if self.trainer.optimizers else None

    def on_validation_epoch_start(self) -> None:
        self.val_sums = _EpochSums()

    def epoch_logs(self) -> dict[str, float]:
        """This epoch's means in the TF history vocabulary: ``loss``/``train_loss``,
        ``val_loss``, ``<output>_loss``, ``val_<output>_loss``, ``learning_rate``.

        Under DDP this is a collective (sums over all ranks): call it on every rank."""
        train, val = self.train_sums, self.val_sums
        if self._distributed():
            strategy = self.trainer.strategy
            train, val = train.reduced(strategy), val.reduced(strategy)
        logs: dict[str, float] = {}
        for key, value in train.means().items():
            logs[key] = value
        if "loss" in logs:
            logs["train_loss"] = logs["loss"]
        for key, value in val.means().items():
            logs[f"val_{key}"] = value
        if self._epoch_lr is not None:
            logs["learning_rate"] = self._epoch_lr
        return logs

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        params = [p for p in self.autoencoder.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(
            params, lr=self.execution_config.learning_rate, betas=ADAM_BETAS, eps=ADAM_EPSILON
        )
        has_val = self.trainer is not None and self.trainer.limit_val_batches != 0
        scheduler = build_scheduler(
            optimizer, self.execution_config, nepochs=self.nepochs, monitor="val_loss" if has_val else "train_loss"
        )
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        if isinstance(batch, TensorDict):
            if self.pin_memory and device.type == "cuda":
                return batch.pin_memory().to(device, non_blocking=True)
            return batch.to(device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)
