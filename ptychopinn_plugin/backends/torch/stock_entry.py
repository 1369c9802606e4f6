"""The torch pieces behind the ``ptycho_torch`` compatibility package (stock Ptychodus 1.7's
"PtychoPINN-Torch" entries; specs/ptycho_torch_compat.md §4T).

Config-agnostic: everything here takes our typed configs plus the plain-dict form of the
``ptycho_torch`` configs to store; the translation lives in ``ptycho_torch.config_bridge``
(an integration layer above this backend).

* :class:`StockLightningModule`: our training module, constructible from configs alone
  (placeholder ``s`` and probe, overwritten by :meth:`~StockLightningModule.install_physics`
  before training and by ``load_state_dict`` when a checkpoint is opened), logging
  ``train_loss``/``val_loss`` per epoch plus one INFO line per epoch (the only progress
  channel Ptychodus's child has, §4T.4.6), and writing the ``'ptycho_torch'`` record into
  every checkpoint (§4T.5.2).
* :func:`build_stock_trainer`: one device, in-process, ``checkpoints/best.ckpt`` written
  atomically, weights only, no early stopping (D6).
* :func:`load_checkpoint`: ``torch.load(weights_only=True)`` only; pickled objects are
  refused with a message about safety (§4T.5.3, §4T.8).
* :func:`predict_and_stitch_frame`: network pass and stitching onto the frame of §4T.6.4.
"""

from __future__ import annotations

import logging
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ptychopinn_plugin.config import PyTorchExecutionConfig, TrainingConfig
from ptychopinn_plugin.physics.stitching import StitchFrame, illumination_weight, stitch_onto_frame
from ptychopinn_plugin.util.atomic import atomic_path

from .lightning_module import PtychoLightningModule
from .losses import LossSpec
from .models import build_models, trained_intensity_scale
from .predict import predict_objects

logger = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "StockLightningModule",
    "build_stock_trainer",
    "finalise_checkpoint",
    "load_checkpoint",
    "predict_and_stitch_frame",
]

CHECKPOINT_FORMAT = "ptychopinn.ptycho_torch-checkpoint"
CHECKPOINT_FORMAT_VERSION = "1.0"
CHECKPOINT_KEY = "ptycho_torch"


def _placeholder_probe(n: int) -> np.ndarray:
    """A non-zero probe so the model can be built from configs alone; always overwritten."""
    return np.ones((n, n), dtype=np.complex64)


class StockLightningModule(PtychoLightningModule):
    """Our PINN / supervised training module in the shape Ptychodus's stock entry drives.

    ``stored_configs``: the plain-dict configs written into checkpoints (``to_dict()`` of
    each ``ptycho_torch`` config).  ``checkpoint_info``: the data-dependent facts recorded
    next to them (nphotons, diffraction domain, training files, ...), set by the trainer.
    """

    loss_name = "train_loss"
    val_loss_name = "val_loss"

    def __init__(self, training_config: TrainingConfig, execution_config: PyTorchExecutionConfig, *,
                 stored_configs: dict[str, dict[str, Any]]) -> None:
        cfg = training_config
        n = int(cfg.model.N)
        autoencoder, diffraction_to_obj = build_models(
            cfg.model, intensity_scale=1.0, probe=_placeholder_probe(n),
            intensity_scale_trainable=cfg.intensity_scale_trainable, seed=cfg.seed,
        )
        supervised = cfg.model.model_type == "supervised"
        spec = None if supervised else LossSpec.from_training_config(cfg, has_ground_truth=False)
        super().__init__(autoencoder, diffraction_to_obj, loss_spec=spec, execution_config=execution_config,
                         nepochs=cfg.nepochs)
        self.training_config = cfg
        self.stored_configs = {k: dict(v) for k, v in stored_configs.items()}
        self.checkpoint_info: dict[str, Any] = {}
        # The intensity scale s of the inputs and the normalised probe training used: buffers,
        # so every checkpoint carries them (§4T.5.2), the supervised one too, whose network
        # has no probe of its own.
        self.register_buffer("stored_intensity_scale", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("stitch_probe", torch.from_numpy(_placeholder_probe(n)))
        self.epoch_history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}

    # ------------------------------------------------------------------ physics state
    def install_physics(self, intensity_scale: float, probe: np.ndarray) -> None:
        """Write ``s``, ``w = log s`` and the normalised probe before training (§4T.4.5)."""
        s = float(intensity_scale)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"intensity scale must be a finite number > 0; got {intensity_scale!r}")
        probe = np.asarray(probe, dtype=np.complex64)
        core = self.autoencoder.core
        with torch.no_grad():
            self.stored_intensity_scale.fill_(s)
            self.stitch_probe.copy_(torch.from_numpy(probe))
            if hasattr(core, "scaler"):
                core.scaler.log_scale.fill_(math.log(s))
                core.illumination.set_probe(probe)
            if hasattr(core, "input_scale"):
                core.input_scale.fill_(s)

    @property
    def intensity_scale(self) -> float:
        return float(self.stored_intensity_scale)

    # ------------------------------------------------------------------ progress
    def on_train_epoch_end(self) -> None:
        metrics = self.trainer.callback_metrics
        train = metrics.get(self.loss_name)
        val = metrics.get(self.val_loss_name)
        if train is not None:
            self.epoch_history["train_loss"].append(float(train))
        if val is not None:
            self.epoch_history["val_loss"].append(float(val))
        lr = self.trainer.optimizers[0].param_groups[0]["lr"] if self.trainer.optimizers else float("nan")
        logger.info("PtychoPINN-Torch epoch %d/%d: train_loss=%s val_loss=%s lr=%.3g", self.current_epoch + 1,
                    self.nepochs, "n/a" if train is None else f"{float(train):.6g}",
                    "n/a" if val is None else f"{float(val):.6g}", lr)

    # ------------------------------------------------------------------ checkpoint record
    def checkpoint_record(self) -> dict[str, Any]:
        """The ``'ptycho_torch'`` entry of a checkpoint: builtins only (§4T.5.2)."""
        import lightning

        from ptychopinn_plugin._version import __version__

        trained = trained_intensity_scale(self.autoencoder)
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "ptychopinn_version": str(__version__),
            "framework_versions": {"torch": str(torch.__version__), "lightning": str(lightning.__version__)},
            "configs": {k: dict(v) for k, v in self.stored_configs.items()},
            "intensity_scale": self.intensity_scale,
            "intensity_scale_trained": float(self.intensity_scale if trained is None else trained),
            "architecture": "reference",
            "history": {k: [float(v) for v in vals] for k, vals in self.epoch_history.items()},
            "completed": False,
            **{k: v for k, v in self.checkpoint_info.items()},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = self.checkpoint_record()
        # Lightning adds hyper-parameters only when save_hyperparameters() was called (never here).
        checkpoint.pop("hyper_parameters", None)

    def load_weights(self, checkpoint: dict[str, Any]) -> None:
        """``load_state_dict(strict=True)``; a mismatch becomes a ``ValueError`` listing the keys."""
        state = checkpoint.get("state_dict")
        if not isinstance(state, dict):
            raise ValueError("the checkpoint has no 'state_dict'")
        own = set(self.state_dict())
        missing = sorted(own - set(state))
        unexpected = sorted(set(state) - own)
        if missing or unexpected:
            raise ValueError(f"the checkpoint does not fit the model its configs describe: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"the checkpoint does not fit the model its configs describe: {exc}") from None
        history = checkpoint.get(CHECKPOINT_KEY, {}).get("history", {})
        self.epoch_history = {k: [float(v) for v in history.get(k, [])] for k in ("train_loss", "val_loss")}


# ---------------------------------------------------------------------------- trainer
def _atomic_checkpoint_io() -> Any:
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        """Writes each checkpoint to a temporary in the same directory, then renames it: a
        kill never leaves a truncated ``best.ckpt`` (§4T.4.7)."""

        def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
            _save_atomically(checkpoint, Path(path))

    return AtomicCheckpointIO()


def build_stock_trainer(*, run_dir: Path, accelerator: str, precision: str, exe: PyTorchExecutionConfig,
                        epochs: int, has_validation: bool) -> Any:
    """A ``lightning.pytorch.Trainer`` for one device in this process (§4T.4.5): exactly
    ``epochs`` epochs, the best epoch's weights in ``run_dir/checkpoints/best.ckpt``."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    checkpoint = ModelCheckpoint(
        dirpath=str(Path(run_dir) / "checkpoints"), filename="best",
        monitor="val_loss" if has_validation else "train_loss", mode="min", save_top_k=1, save_last=False,
        save_weights_only=True, enable_version_counter=False, auto_insert_metric_name=False,
    )
    return Trainer(
        accelerator=accelerator, devices=1, strategy="auto", precision=precision, deterministic=exe.deterministic,
        max_epochs=int(epochs), accumulate_grad_batches=exe.accum_steps, gradient_clip_val=exe.gradient_clip_val,
        default_root_dir=str(run_dir), logger=CSVLogger(str(run_dir)), callbacks=[checkpoint],
        plugins=[_atomic_checkpoint_io()], enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=None if has_validation else 0, log_every_n_steps=1,
        use_distributed_sampler=False,
    )


def _save_atomically(checkpoint: dict[str, Any], target: Path) -> None:
    with atomic_path(target) as temporary:
        torch.save(checkpoint, temporary)


def finalise_checkpoint(path: Any, module: StockLightningModule) -> None:
    """After a run that finished every epoch: mark the best checkpoint ``completed`` and give
    it the whole run's loss history (it was written mid-run, at its best epoch)."""
    target = Path(path)
    checkpoint = load_checkpoint(target)
    record = checkpoint[CHECKPOINT_KEY]
    record["completed"] = True
    record["history"] = {k: [float(v) for v in vals] for k, vals in module.epoch_history.items()}
    _save_atomically(checkpoint, target)


# ---------------------------------------------------------------------------- checkpoints
def load_checkpoint(path: Any, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint dict, loaded with ``weights_only=True`` (never unpickles objects)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    if not p.is_file():
        raise ValueError(f"{p} is not a file; expected a .ckpt checkpoint")
    try:
        checkpoint = torch.load(str(p), map_location=map_location or "cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{p} contains pickled Python objects (for example a checkpoint written by the original PtychoPINN); "
            "it is not loaded for safety. No converter ships with ptychopinn: retrain with the PtychoPINN-Torch "
            "entry or ptychopinn-train --backend pytorch"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{p} is not a readable PyTorch checkpoint: {exc}") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get(CHECKPOINT_KEY), dict):
        raise ValueError(f"{p} is not a ptychopinn PtychoPINN-Torch checkpoint")
    record = checkpoint[CHECKPOINT_KEY]
    version = str(record.get("format_version", ""))
    if record.get("format") != CHECKPOINT_FORMAT or version.split(".")[0] != CHECKPOINT_FORMAT_VERSION.split(".")[0]:
        raise ValueError(f"{p}: checkpoint format {record.get('format')!r} version {version!r} is not readable by "
                         f"this ptychopinn (reads {CHECKPOINT_FORMAT!r} version {CHECKPOINT_FORMAT_VERSION})")
    return checkpoint


# ---------------------------------------------------------------------------- inference
def predict_and_stitch_frame(module: StockLightningModule, X: np.ndarray, coords_relative: np.ndarray,
                             xy: np.ndarray, frame: StitchFrame, *, batch_size: int, M: int, patch_weighting: str,
                             weight_probe: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Network pass on normalised groups ``X`` and stitching of the group centres ``xy``
    ``(B, 2)`` onto ``frame`` (``StitchFrame.around_positions`` of the scan positions, §4T.6.3-6.4).
    ``weight_probe``: the normalised probe of the scan, whose ``|P|²`` weights the stitch
    when ``patch_weighting == 'probe'``.

    Batches halve on a CUDA out-of-memory error, down to 1."""
    module.eval()
    d2o = module.diffraction_to_obj
    size = max(1, int(batch_size))
    while True:
        try:
            with torch.no_grad():
                patches = predict_objects(d2o, X, coords_relative, module.intensity_scale, batch_size=size,
                                          device=device, precision="32-true")
            break
        except torch.cuda.OutOfMemoryError:
            if size == 1:
                raise
            size = max(1, size // 2)
            logger.warning("CUDA out of memory; retrying inference with batch size %d", size)
            torch.cuda.empty_cache()
    weight = illumination_weight(weight_probe, M) if patch_weighting == "probe" else None
    return stitch_onto_frame(patches, xy, frame, M, weight=weight)
