"""Training entry point of the torch backend (physics §7, §12; api spec §2.6, §6.2 semantics).

``train_models(container, training_config, execution_config, monitor=...)`` mirrors the
TF backend's function of the same name: it computes ``s = sqrt(nphotons)/(N/2)`` fresh
from the config, normalises the container's raw probe with ``model.probe_scale``
(physics §6.1), builds fresh models, trains them with Lightning (Adam, the configured
schedule, EarlyStopping on the training loss, the last 5 % of groups validating) and
returns a :class:`TrainResult` with the same fields as the TF one.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from lightning.pytorch import Trainer

from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig, validate_model_config
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.physics.probe import normalise_probe

from .datamodule import PtychoDataModule, numpy_container
from .execution import build_callbacks, build_logger, resolve_accelerator
from .lightning_module import PtychoLightningModule
from .losses import LossSpec
from .models import Autoencoder, DiffractionToObj, build_models, trained_intensity_scale
from .monitor import MonitorBridge, TrainingMonitor
from .seeding import check_seed, seed_everything

logger = logging.getLogger(__name__)

__all__ = ["TrainResult", "train_models"]


@dataclass
class TrainResult:
    """Outcome of one training run (same fields as the TF backend's ``TrainResult``)."""

    autoencoder: Autoencoder
    diffraction_to_obj: DiffractionToObj
    history: dict[str, list[float]]
    """Per-epoch ``loss``/``train_loss``, ``val_loss``, per-output ``<output>_loss`` and
    ``val_<output>_loss``, ``learning_rate`` (complete epochs only)."""
    intensity_scale: float
    """``s`` that multiplied inputs and targets (archive ``intensity_scale``)."""
    intensity_scale_trained: float
    """``exp(w_final)`` (equals ``s`` for the supervised model, which has no ``w``)."""
    completed: bool
    """False when the monitor stopped training early (EarlyStopping counts as completed)."""
    epochs_run: int
    """Number of complete epochs (``len(history['loss'])``)."""
    probe: Optional[np.ndarray]
    """Normalised probe used by the model, complex64 ``(N, N)`` (archive ``probe.npy``)."""
    model_config: ModelConfig
    batches_run: int = 0
    seconds: float = 0.0
    history_epochs: list[int] = field(default_factory=list)


def _normalised_probe(source: Any, probe: Optional[np.ndarray], cfg: ModelConfig) -> Optional[np.ndarray]:
    if probe is not None:
        return np.asarray(probe).astype(np.complex64)
    if getattr(source, "probe", None) is None:
        if cfg.model_type == "supervised":
            return None
        raise ValueError("the training container has no probe; the PINN needs one (data §3.1 'probe')")
    return normalise_probe(source.probe, cfg.probe_scale)


def _check_container(source: Any, cfg: TrainingConfig) -> None:
    n = int(source.X.shape[1])
    channels = int(source.X.shape[3])
    if n != cfg.model.N:
        raise ValueError(f"training data patterns are {n}×{n} but ModelConfig.N = {cfg.model.N}")
    if channels != cfg.model.gridsize**2:
        raise ValueError(
            f"training data have {channels} channels per group but ModelConfig.gridsize = {cfg.model.gridsize} "
            f"needs {cfg.model.gridsize**2}"
        )
    if cfg.model.model_type == "supervised":
        if cfg.model.gridsize != 1:
            raise ValueError(f"supervised training requires gridsize == 1 (got gridsize = {cfg.model.gridsize})")
        if not source.has_ground_truth:
            raise ValueError(
                "supervised training needs ground-truth object patches (Y in the data or an objectGuess); "
                "the training data have none"
            )


def train_models(
    container: Any,
    training_config: TrainingConfig,
    execution_config: Optional[PyTorchExecutionConfig] = None,
    *,
    monitor: Optional[TrainingMonitor] = None,
    probe: Optional[np.ndarray] = None,
) -> TrainResult:
    """Train fresh ``(autoencoder, diffraction_to_obj)`` on ``container``.

    ``container``: a NumPy ``PtychoDataContainer`` or a ``PtychoDataContainerTorch``.
    ``execution_config``: None → the defaults of api spec §2.6.  ``probe``: an already
    normalised probe that overrides normalising ``container.probe``.
    """
    cfg = training_config
    exe = execution_config if execution_config is not None else PyTorchExecutionConfig()
    validate_model_config(cfg.model, require_n=True)
    source = numpy_container(container)
    _check_container(source, cfg)
    supervised = cfg.model.model_type == "supervised"

    seed = check_seed(cfg.seed)
    if exe.deterministic or seed is not None:
        seed = 0 if seed is None else seed
        seed_everything(seed)
    scale = closed_form_scale(cfg.nphotons, cfg.model.N)
    model_probe = _normalised_probe(source, probe, cfg.model)
    autoencoder, diffraction_to_obj = build_models(
        cfg.model,
        intensity_scale=scale,
        probe=model_probe,
        probe_trainable=cfg.probe_trainable,
        intensity_scale_trainable=cfg.intensity_scale_trainable,
        seed=seed,
    )
    spec = None if supervised else LossSpec.from_training_config(cfg, has_ground_truth=source.has_ground_truth)
    datamodule = PtychoDataModule(
        source,
        batch_size=cfg.batch_size,
        intensity_scale=scale,
        seed=seed,
        supervised=supervised,
        object_target=bool(spec is not None and spec.needs_object_target),
        num_workers=exe.num_workers,
        persistent_workers=exe.persistent_workers,
        prefetch_factor=exe.prefetch_factor,
        pin_memory=exe.pin_memory,
    )
    module = PtychoLightningModule(
        autoencoder, diffraction_to_obj, loss_spec=spec, execution_config=exe, nepochs=cfg.nepochs,
        pin_memory=exe.pin_memory,
    )

    output_dir = Path(cfg.output_dir)
    bridge = MonitorBridge(monitor, cfg.nepochs)
    callbacks = [bridge, *build_callbacks(exe, output_dir, has_validation=True)]
    trainer = Trainer(
        accelerator=resolve_accelerator(exe.accelerator),
        devices=exe.devices,
        strategy=exe.strategy,
        precision=exe.precision,
        deterministic=exe.deterministic,
        gradient_clip_val=exe.gradient_clip_val,
        gradient_clip_algorithm=exe.gradient_clip_algorithm if exe.gradient_clip_val is not None else None,
        accumulate_grad_batches=exe.accum_steps,
        max_epochs=cfg.nepochs,
        logger=build_logger(exe, output_dir),
        callbacks=callbacks,
        enable_checkpointing=exe.enable_checkpointing,
        enable_progress_bar=exe.enable_progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        default_root_dir=str(output_dir),
    )
    logger.info(
        "training (torch) %s N=%d gridsize=%d on %d groups (%d validation), %d epochs, batch %d, s=%.6g",
        cfg.model.model_type, cfg.model.N, cfg.model.gridsize, len(datamodule.train_set), len(datamodule.val_set),
        cfg.nepochs, cfg.batch_size, scale,
    )
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    deterministic_warn_before = torch.is_deterministic_algorithms_warn_only_enabled()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            # We override transfer_batch_to_device on purpose (TensorDict batches, pinning).
            warnings.filterwarnings("ignore", message=r".*overridden `transfer_batch_to_device`.*")
            trainer.fit(module, datamodule=datamodule)
    finally:
        # Lightning switches deterministic algorithms on process-wide; restore the caller's setting.
        torch.use_deterministic_algorithms(deterministic_before, warn_only=deterministic_warn_before)
    elapsed = time.perf_counter() - start

    autoencoder.cpu().eval()
    history = {key: list(values) for key, values in bridge.history.items()}
    epochs_run = len(history.get("loss", []))
    trained = trained_intensity_scale(autoencoder)
    if bridge.stop_requested:
        logger.info("training stopped by the caller; keeping the model after %d batches", bridge.batches_done)
    return TrainResult(
        autoencoder=autoencoder,
        diffraction_to_obj=diffraction_to_obj,
        history=history,
        intensity_scale=float(scale),
        intensity_scale_trained=float(scale if trained is None else trained),
        completed=not bridge.stop_requested,
        epochs_run=epochs_run,
        probe=model_probe,
        model_config=cfg.model,
        batches_run=bridge.batches_done,
        seconds=elapsed,
        history_epochs=list(range(epochs_run)),
    )
