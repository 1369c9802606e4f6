"""Training entry points of the torch backend (physics §7, §12; api spec §2.6, §6.2 semantics).

``train_models(container, training_config, execution_config, monitor=...)`` mirrors the
TF backend's function of the same name: it computes ``s = sqrt(nphotons)/(N/2)`` fresh
from the config, normalises the container's raw probe with ``model.probe_scale``
(physics §6.1), builds fresh models, trains them with Lightning (Adam, the configured
schedule, EarlyStopping on the training loss, the last 5 % of groups validating) and
returns a :class:`TrainResult` with the same fields as the TF one.

``train_models_mmap(mmap_dir, ...)`` does the same from a memory-mapped dataset
(data §4, :mod:`.mmap_dataset`): batches are read from disk, so the dataset may be far
larger than RAM.

Every :class:`~ptychopinn_plugin.config.PyTorchExecutionConfig` field is honoured
(:func:`.execution.build_trainer`).  With ``strategy='ddp_spawn'`` Lightning trains in
spawned processes; the trained weights and the history come back to this process (the
run record travels in the module's state dict), the monitor is not sent to the children
— it receives the epochs after training and cannot stop a spawned run (WARNING).
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
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig, validate_model_config
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.physics.probe import normalise_probe

from .datamodule import BatchDataModule, LoaderOptions, PtychoDataModule, numpy_container
from .execution import (
    build_callbacks,
    build_trainer,
    is_spawn_strategy,
    resolve_accelerator,
    resolve_precision,
    trains_in_child_processes,
)
from .lightning_module import PtychoLightningModule
from .losses import LossSpec
from .models import Autoencoder, DiffractionToObj, build_models, trained_intensity_scale
from .monitor import MonitorBridge, TrainingMonitor
from .seeding import check_seed, seed_everything

logger = logging.getLogger(__name__)

__all__ = ["TrainResult", "train_models", "train_models_mmap"]


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
    precision: str = "32-true"
    """The precision training actually ran in ('auto' resolved; archived in reproducibility.json)."""


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


def _execution(cfg: TrainingConfig, execution_config: Optional[PyTorchExecutionConfig]) -> PyTorchExecutionConfig:
    """Validate the model config; the execution config (None → the api spec §2.6 defaults)."""
    validate_model_config(cfg.model, require_n=True)
    return execution_config if execution_config is not None else PyTorchExecutionConfig()


def _seed(cfg: TrainingConfig, exe: PyTorchExecutionConfig) -> Optional[int]:
    seed = check_seed(cfg.seed)
    if exe.deterministic or seed is not None:
        seed = 0 if seed is None else seed
        seed_everything(seed)
    return seed


def _fresh_models(
    cfg: TrainingConfig, *, scale: float, probe: Optional[np.ndarray], seed: Optional[int]
) -> tuple[Autoencoder, DiffractionToObj]:
    """Untrained models for ``cfg`` (trainability of the probe and of ``s`` from the config)."""
    return build_models(
        cfg.model,
        intensity_scale=scale,
        probe=probe,
        probe_trainable=cfg.probe_trainable,
        intensity_scale_trainable=cfg.intensity_scale_trainable,
        seed=seed,
    )


def _loader_options(exe: PyTorchExecutionConfig) -> LoaderOptions:
    """The DataLoader settings of the execution config, for either data module."""
    return LoaderOptions(
        num_workers=exe.num_workers,
        persistent_workers=exe.persistent_workers,
        prefetch_factor=exe.prefetch_factor,
        pin_memory=exe.pin_memory,
    )


def _fit(
    *,
    cfg: TrainingConfig,
    exe: PyTorchExecutionConfig,
    datamodule: BatchDataModule,
    autoencoder: Autoencoder,
    diffraction_to_obj: DiffractionToObj,
    spec: Optional[LossSpec],
    scale: float,
    model_probe: Optional[np.ndarray],
    monitor: Optional[TrainingMonitor],
    source_label: str,
) -> TrainResult:
    """Train the models on ``datamodule`` with a Trainer built from ``exe``; the shared tail
    of both entry points."""
    module = PtychoLightningModule(
        autoencoder, diffraction_to_obj, loss_spec=spec, execution_config=exe, nepochs=cfg.nepochs,
        pin_memory=exe.pin_memory,
    )
    output_dir = Path(cfg.output_dir)
    bridge = MonitorBridge(monitor, cfg.nepochs)
    has_validation = datamodule.has_validation
    callbacks = [bridge, *build_callbacks(exe, output_dir, has_validation=has_validation)]
    accelerator = resolve_accelerator(exe.accelerator)
    precision, reason = resolve_precision(exe.precision, accelerator)
    trainer = build_trainer(
        exe, nepochs=cfg.nepochs, output_dir=output_dir, callbacks=callbacks, has_validation=has_validation,
        accelerator=accelerator, precision=precision,
    )
    # Training in child processes (ddp_spawn, or what 'auto' chose): the monitor stays here.
    spawn = is_spawn_strategy(exe.strategy) or trains_in_child_processes(trainer)
    if spawn:
        bridge.monitor = None
        if monitor is not None:
            logger.warning(
                "training runs in spawned processes (strategy=%r): the monitor stays in this process; it receives "
                "the epochs after training ends and cannot stop the run", exe.strategy,
            )
    n_val = len(datamodule.val_set) if has_validation else 0
    logger.info("training precision %s (%s); the physics runs in float32", precision, reason)
    logger.info(
        "training (torch, %s) %s N=%d gridsize=%d on %d groups (%d validation), %d epochs, batch %d, s=%.6g, "
        "strategy=%s devices=%s",
        source_label, cfg.model.model_type, cfg.model.N, cfg.model.gridsize, len(datamodule.train_set), n_val,
        cfg.nepochs, cfg.batch_size, scale, exe.strategy, exe.devices,
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
    record = module.record
    history = {key: list(values) for key, values in record["history"].items()}
    epochs_run = len(history.get("loss", []))
    stop_requested = bool(record["stop_requested"])
    if spawn and monitor is not None:
        for epoch in range(epochs_run):
            monitor.on_epoch_end(epoch, cfg.nepochs, {key: values[epoch] for key, values in history.items()
                                                      if len(values) > epoch})
    trained = trained_intensity_scale(autoencoder)
    if stop_requested:
        logger.info("training stopped by the caller; keeping the model after %d batches", record["batches_done"])
    return TrainResult(
        autoencoder=autoencoder,
        diffraction_to_obj=diffraction_to_obj,
        history=history,
        intensity_scale=float(scale),
        intensity_scale_trained=float(scale if trained is None else trained),
        completed=not stop_requested,
        epochs_run=epochs_run,
        probe=model_probe,
        model_config=cfg.model,
        batches_run=int(record["batches_done"]),
        seconds=elapsed,
        history_epochs=list(range(epochs_run)),
        precision=precision,
    )


def _pretrain(autoencoder: Autoencoder, source: Any, cfg: TrainingConfig, exe: PyTorchExecutionConfig, *,
              scale: float, seed: Optional[int], monitor: Optional[TrainingMonitor]) -> Any:
    """Synthetic pretraining of the fresh models (:mod:`.pretrain`).  It runs where the fresh
    models are, on the CPU, so ``'auto'`` resolves by the CPU's rule (the Trainer moves
    the models to the accelerator only afterwards)."""
    from .pretrain import pretrain_on_synthetic_groups

    precision, _ = resolve_precision(exe.precision, "cpu")
    result = pretrain_on_synthetic_groups(
        autoencoder.core, probe=np.asarray(source.probe), relative_offsets=np.asarray(source.coords_nominal),
        nphotons=cfg.nphotons, intensity_scale=scale, steps=cfg.pretrain_steps, batch_size=cfg.batch_size,
        learning_rate=exe.learning_rate, precision=precision, seed=0 if seed is None else int(seed) + 1,
        monitor=monitor,
    )
    logger.info("synthetic pretraining: %d steps in %.1f s, final loss %.4g", result.steps, result.seconds,
                result.final_loss)
    return result


def _result_without_fit(autoencoder: Autoencoder, diffraction_to_obj: DiffractionToObj, cfg: TrainingConfig,
                        scale: float, model_probe: Optional[np.ndarray], pretrained: Any) -> TrainResult:
    """The outcome when the caller stopped during pretraining: the pretrained weights, no
    epoch on the data, ``completed = False``."""
    autoencoder.cpu().eval()
    trained = trained_intensity_scale(autoencoder)
    return TrainResult(
        autoencoder=autoencoder, diffraction_to_obj=diffraction_to_obj, history={},
        intensity_scale=float(scale), intensity_scale_trained=float(scale if trained is None else trained),
        completed=False, epochs_run=0, probe=model_probe, model_config=cfg.model, batches_run=0,
        seconds=pretrained.seconds, history_epochs=[], precision=pretrained.precision,
    )


def train_models(
    container: Any,
    training_config: TrainingConfig,
    execution_config: Optional[PyTorchExecutionConfig] = None,
    *,
    monitor: Optional[TrainingMonitor] = None,
    probe: Optional[np.ndarray] = None,
    validation: bool = True,
) -> TrainResult:
    """Train fresh ``(autoencoder, diffraction_to_obj)`` on ``container``.

    ``container``: a NumPy ``PtychoDataContainer`` or a ``PtychoDataContainerTorch``.
    ``execution_config``: None → the defaults of api spec §2.6.  ``probe``: an already
    normalised probe that overrides normalising ``container.probe``.  ``validation=False``
    trains on every group and runs no validation (checkpoints and the plateau schedule
    then watch ``train_loss``).
    """
    cfg = training_config
    exe = _execution(cfg, execution_config)
    source = numpy_container(container)
    _check_container(source, cfg)
    supervised = cfg.model.model_type == "supervised"

    seed = _seed(cfg, exe)
    scale = closed_form_scale(cfg.nphotons, cfg.model.N)
    model_probe = _normalised_probe(source, probe, cfg.model)
    autoencoder, diffraction_to_obj = _fresh_models(cfg, scale=scale, probe=model_probe, seed=seed)
    if cfg.pretrain_steps > 0 and not supervised:
        pretrained = _pretrain(autoencoder, source, cfg, exe, scale=scale, seed=seed, monitor=monitor)
        if pretrained.stopped:
            return _result_without_fit(autoencoder, diffraction_to_obj, cfg, scale, model_probe, pretrained)
    spec = None if supervised else LossSpec.from_training_config(cfg, has_ground_truth=source.has_ground_truth)
    datamodule = PtychoDataModule(
        source,
        batch_size=cfg.batch_size,
        intensity_scale=scale,
        seed=seed,
        supervised=supervised,
        object_target=bool(spec is not None and spec.needs_object_target),
        validation=validation,
        **_loader_options(exe),
    )
    return _fit(
        cfg=cfg, exe=exe, datamodule=datamodule, autoencoder=autoencoder, diffraction_to_obj=diffraction_to_obj,
        spec=spec, scale=scale, model_probe=model_probe, monitor=monitor, source_label="in-memory container",
    )


def train_models_mmap(
    mmap_dir: Any,
    training_config: TrainingConfig,
    execution_config: Optional[PyTorchExecutionConfig] = None,
    *,
    monitor: Optional[TrainingMonitor] = None,
    probe: Optional[np.ndarray] = None,
    validation: bool = True,
) -> TrainResult:
    """Train fresh models from a memory-mapped dataset built by :func:`.mmap_dataset.build_mmap_dataset`.

    ``mmap_dir``: the dataset directory (or an opened :class:`.mmap_dataset.MmapDataset`).
    The dataset must match the model (``N``, ``gridsize``) and ``training_config.nphotons``
    must equal the ``nphotons`` it was built with (it fixed ``physics_scaling_constant``).
    The PINN only: supervised training and the real-space MAE need ground-truth patches,
    which the memory-mapped format does not store (``ValueError``).  Validation = the last
    5 % of the stored groups.  ``probe``: a normalised probe overriding the dataset's first
    experiment's probe normalised with ``model.probe_scale``; when the experiments' probes
    differ, every batch carries its experiment's probe (data §3.3 ``probe``).
    """
    from .mmap_datamodule import MmapDataModule
    from .mmap_dataset import MmapDataset

    cfg = training_config
    exe = _execution(cfg, execution_config)
    dataset = mmap_dir if isinstance(mmap_dir, MmapDataset) else MmapDataset(mmap_dir)
    dataset.check_compatible(cfg)
    if cfg.model.model_type == "supervised":
        raise ValueError(
            "supervised training needs ground-truth labels (label_amp/label_phase), which memory-mapped datasets "
            "do not store; train the supervised model from an in-memory container"
        )
    spec = LossSpec.from_training_config(cfg, has_ground_truth=False)
    if spec.needs_object_target:  # pragma: no cover - from_training_config already raised
        raise ValueError("the real-space MAE needs ground truth, which memory-mapped datasets do not store")

    seed = _seed(cfg, exe)
    scale = closed_form_scale(cfg.nphotons, cfg.model.N)
    probes = [normalise_probe(p, cfg.model.probe_scale) for p in dataset.probes()]
    model_probe = np.asarray(probe).astype(np.complex64) if probe is not None else probes[0]
    per_sample = None
    if len(probes) > 1 and any(not np.array_equal(p, probes[0]) for p in probes[1:]):
        per_sample = np.stack(probes)
        logger.info("the %d experiments have different probes: every batch carries its own", len(probes))
    autoencoder, diffraction_to_obj = _fresh_models(cfg, scale=scale, probe=model_probe, seed=seed)
    datamodule = MmapDataModule(
        dataset, batch_size=cfg.batch_size, seed=seed, probes=per_sample, validation=validation,
        **_loader_options(exe),
    )
    return _fit(
        cfg=cfg, exe=exe, datamodule=datamodule, autoencoder=autoencoder, diffraction_to_obj=diffraction_to_obj,
        spec=spec, scale=scale, model_probe=model_probe, monitor=monitor,
        source_label=f"memory-mapped {dataset.directory}",
    )
