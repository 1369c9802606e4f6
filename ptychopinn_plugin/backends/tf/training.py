"""Training entry point of the TF backend (physics §7, §12; api spec §6.2 semantics).

``train_models(container, training_config, monitor=...)`` builds fresh models, trains
them with Adam and the §12.2 schedule, and returns a :class:`TrainResult`.  The
intensity scale ``s = sqrt(nphotons)/(N/2)`` is computed from the config at the start
of every call (never reused from an earlier run), the raw container probe is
normalised with ``model.probe_scale`` (§6.1), and the last 5 % of groups validate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import keras
import numpy as np

from ptychopinn_plugin.config import ModelConfig, TrainingConfig, validate_model_config
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.physics.probe import normalise_probe

from .callbacks import MonitorCallback, StopRequested, TrainingMonitor, schedule_callbacks
from .data_views import STREAM_THRESHOLD, TrainingArrays, make_dataset, validation_split
from .losses import pinn_losses, supervised_losses
from .models import build_models, trained_intensity_scale
from .seeding import seed_framework

logger = logging.getLogger(__name__)

__all__ = [
    "ADAM_LEARNING_RATE",
    "ADAM_EPSILON",
    "TrainResult",
    "make_optimizer",
    "compile_models",
    "train_models",
]

ADAM_LEARNING_RATE = 1e-3
ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
ADAM_EPSILON = 1e-7


@dataclass
class TrainResult:
    """Outcome of one training run."""

    autoencoder: keras.Model
    diffraction_to_obj: keras.Model
    history: dict[str, list[float]]
    """Per-epoch ``loss``/``train_loss``, ``val_loss``, per-output ``<output>_loss`` and
    ``val_<output>_loss``, ``learning_rate``."""
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
    """The precision training ran in (archived in reproducibility.json)."""


def make_optimizer() -> keras.optimizers.Optimizer:
    """Adam(lr 1e-3, β1 0.9, β2 0.999, ε 1e-7) — physics §12.2."""
    return keras.optimizers.Adam(
        learning_rate=ADAM_LEARNING_RATE, beta_1=ADAM_BETA_1, beta_2=ADAM_BETA_2, epsilon=ADAM_EPSILON
    )


def compile_models(
    autoencoder: keras.Model,
    training_config: TrainingConfig,
    *,
    has_ground_truth: bool,
    jit_compile: bool = False,
    run_eagerly: bool = False,
) -> None:
    """Compile ``autoencoder`` with the optimiser and the per-output losses/weights.

    ``run_eagerly`` skips graph tracing (about 10 s for this model on CPU): slower per
    step, so only worth it for a handful of steps (tests, debugging).
    """
    if training_config.model.model_type == "supervised":
        losses, weights = supervised_losses()
    else:
        losses, weights = pinn_losses(training_config, has_ground_truth=has_ground_truth)
    autoencoder.compile(
        optimizer=make_optimizer(), loss=losses, loss_weights=weights, jit_compile=jit_compile, run_eagerly=run_eagerly
    )


def _check_arrays(arrays: TrainingArrays, cfg: ModelConfig) -> None:
    if arrays.N != cfg.N:
        raise ValueError(f"training data patterns are {arrays.N}×{arrays.N} but ModelConfig.N = {cfg.N}")
    if arrays.channels != cfg.gridsize**2:
        raise ValueError(
            f"training data have {arrays.channels} channels per group but ModelConfig.gridsize = {cfg.gridsize} "
            f"needs {cfg.gridsize**2}"
        )


def _normalised_probe(arrays: TrainingArrays, probe: Optional[np.ndarray], cfg: ModelConfig) -> Optional[np.ndarray]:
    if probe is not None:
        return np.asarray(probe).astype(np.complex64)
    if arrays.probe is None:
        if cfg.model_type == "supervised":
            return None
        raise ValueError("the training container has no probe; the PINN needs one (data §3.1 'probe')")
    return normalise_probe(arrays.probe, cfg.probe_scale)


def _history_dict(history: keras.callbacks.History) -> dict[str, list[float]]:
    out = {key: [float(v) for v in values] for key, values in getattr(history, "history", {}).items()}
    if "loss" in out:
        out["train_loss"] = list(out["loss"])
    return out


def train_models(
    container: Any,
    training_config: TrainingConfig,
    *,
    monitor: Optional[TrainingMonitor] = None,
    probe: Optional[np.ndarray] = None,
    stream_threshold: int = STREAM_THRESHOLD,
    jit_compile: bool = False,
    run_eagerly: bool = False,
) -> TrainResult:
    """Train fresh ``(autoencoder, diffraction_to_obj)`` on ``container``.

    ``container``: a NumPy ``PtychoDataContainer`` (or anything with ``X``,
    ``coords_nominal``, ``probe``, ``Y``/``has_ground_truth``), or a
    :class:`.data_views.TrainingArrays`.  ``probe``: an already normalised probe that
    overrides normalising ``container.probe``.  ``stream_threshold``: more groups than
    this are streamed (default 10 000, physics §12.2).  ``jit_compile`` (XLA) and
    ``run_eagerly`` are passed to ``compile``; both default to off.
    """
    cfg = training_config
    validate_model_config(cfg.model, require_n=True)
    arrays = container if isinstance(container, TrainingArrays) else TrainingArrays.from_container(container)
    _check_arrays(arrays, cfg.model)
    supervised = cfg.model.model_type == "supervised"
    if supervised:
        if cfg.model.gridsize != 1:
            raise ValueError(f"supervised training requires gridsize == 1 (got gridsize = {cfg.model.gridsize})")
        if not arrays.has_ground_truth:
            raise ValueError(
                "supervised training needs ground-truth object patches (Y in the data or an objectGuess); "
                "the training data have none"
            )

    seed_framework(cfg.seed)
    scale = closed_form_scale(cfg.nphotons, cfg.model.N)
    model_probe = _normalised_probe(arrays, probe, cfg.model)
    autoencoder, diffraction_to_obj = build_models(
        cfg.model,
        intensity_scale=scale,
        probe=model_probe,
        probe_trainable=cfg.probe_trainable,
        intensity_scale_trainable=cfg.intensity_scale_trainable,
        seed=cfg.seed,
    )
    compile_models(
        autoencoder, cfg, has_ground_truth=arrays.has_ground_truth, jit_compile=jit_compile, run_eagerly=run_eagerly
    )

    n = len(arrays)
    train_index, val_index = validation_split(n)
    streaming = n > int(stream_threshold)
    common = dict(
        batch_size=cfg.batch_size, intensity_scale=scale, streaming=streaming, supervised=supervised
    )
    train_ds = make_dataset(arrays, train_index, shuffle=True, seed=cfg.seed, **common)
    val_ds = make_dataset(arrays, val_index, shuffle=False, **common)
    logger.info(
        "training %s N=%d gridsize=%d on %d groups (%d validation), %d epochs, batch %d, s=%.6g%s",
        cfg.model.model_type, cfg.model.N, cfg.model.gridsize, train_index.stop, n - train_index.stop,
        cfg.nepochs, cfg.batch_size, scale, ", streamed" if streaming else "",
    )

    history = keras.callbacks.History()
    bridge = MonitorCallback(monitor, cfg.nepochs)
    callbacks = [*schedule_callbacks(), history, bridge]
    start = time.perf_counter()
    try:
        autoencoder.fit(
            train_ds, validation_data=val_ds, epochs=cfg.nepochs, callbacks=callbacks, verbose=0, shuffle=False
        )
    except StopRequested:
        logger.info("training stopped by the caller; keeping the model after %d batches", bridge.batches_done)
    elapsed = time.perf_counter() - start

    hist = _history_dict(history)
    trained = trained_intensity_scale(autoencoder)
    epochs_run = len(hist.get("loss", []))
    return TrainResult(
        autoencoder=autoencoder,
        diffraction_to_obj=diffraction_to_obj,
        history=hist,
        intensity_scale=float(scale),
        intensity_scale_trained=float(scale if trained is None else trained),
        completed=not bridge.stop_requested,
        epochs_run=epochs_run,
        probe=model_probe,
        model_config=cfg.model,
        batches_run=bridge.batches_done,
        seconds=elapsed,
        history_epochs=list(range(epochs_run)),
        precision="32-true",
    )
