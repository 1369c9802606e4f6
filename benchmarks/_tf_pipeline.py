"""Simulate → group → container → train (TF) → predict a held-out object → stitch → score.

A small composition of the library's lower layers, shared by the TensorFlow benchmarks
(``bench_tf_throughput.py``, ``bench_time_to_quality.py``) and the quality regression
test.  It deliberately does not use ``ptychopinn_plugin.workflows``: the benchmarks
measure the backend and the physics, not the workflow glue.

Held-out evaluation: the training set and the test set are simulated from *different*
objects (``simulate_dataset`` streams 0 and 1), the test set is grouped with one group
per scan position, predicted with ``diffraction_to_obj`` using the training intensity
scale ``s`` (api spec §7.3), stitched with crop ``M`` (physics §10) and scored against
the test ``objectGuess`` with ``eval_reconstruction`` (physics §11, registration on,
plane phase alignment).

Only :func:`train_with_checkpoints` needs TensorFlow; import the rest freely.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ptychopinn_plugin.config import ModelConfig, TrainingConfig
from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.evaluation import eval_reconstruction
from ptychopinn_plugin.physics.stitching import StitchResult, stitch_patches
from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset

from _bench_common import machine_description as _machine_description
from _bench_common import replace_doc_section  # noqa: F401  (re-exported: part of this module's API)

logger = logging.getLogger(__name__)

STITCH_CROP = 20
"""Stitching crop ``M`` used by every workflow and by Ptychodus (physics §10)."""

RECIPE_PATH = Path(__file__).resolve().parent.parent / "resources" / "configs" / "tf_quality_recipe.yaml"
"""The training recipe shared by the time-to-quality benchmark and the quality regression test."""

RECIPE_SIMULATION = SimulationConfig()
"""The simulator's default sample (the app's built-in sample): N = 64, 196-px objects,
256 positions, 1e6 photons per pattern; stream 0 = training object, stream 1 = held-out."""


# ----------------------------------------------------------------------------- data
def simulate_raw(sim: SimulationConfig, stream: int) -> RawData:
    """One simulated dataset as :class:`RawData` (validated by the RawData constructor).

    ``stream`` 0 = training object, 1 = held-out test object (a different object,
    scan jitter and noise draw; same probe and scan geometry).
    """
    ds = simulate_dataset(sim, stream=stream)
    return RawData(
        ds.xcoords, ds.ycoords, ds.xcoords_start, ds.ycoords_start, ds.diffraction, ds.probeGuess,
        ds.scan_index, objectGuess=ds.objectGuess, Y=ds.Y, metadata=ds.metadata,
        source=f"simulate_dataset(stream={stream})",
    )


def make_container(
    raw: RawData,
    *,
    gridsize: int,
    n_groups: Optional[int],
    neighbor_count: int,
    seed: Optional[int],
    nphotons: float,
    enable_oversampling: bool = False,
) -> tuple[PtychoDataContainer, dict[str, Any]]:
    """Group ``raw`` (data §2.2; ``n_groups`` None = one group per position) and build the
    NumPy container; returns ``(container, grouped dict)``."""
    grouped = raw.generate_grouped_data(
        int(raw.N), K=neighbor_count, nsamples=n_groups, seed=seed, gridsize=gridsize,
        enable_oversampling=enable_oversampling,
    )
    return PtychoDataContainer.from_grouped(grouped, raw.probeGuess, nphotons), grouped


@dataclass
class Datasets:
    """Training container plus the held-out test container and its ground-truth object."""

    train: PtychoDataContainer
    test: PtychoDataContainer
    test_object: np.ndarray
    train_object: np.ndarray
    sim: SimulationConfig
    seconds: float = 0.0


def build_datasets(sim: SimulationConfig, cfg: TrainingConfig, *, test_sim: Optional[SimulationConfig] = None) -> Datasets:
    """Simulate the training object (stream 0) and the held-out object (stream 1), group both.

    Training groups follow ``cfg`` (``n_groups``, ``neighbor_count``, ``seed``,
    oversampling); the test set is grouped with one group per position.  Both
    containers carry ``cfg.nphotons``.
    """
    t0 = time.perf_counter()
    g = cfg.model.gridsize
    raw_train = simulate_raw(sim, 0)
    raw_test = simulate_raw(test_sim or sim, 1)
    train, _ = make_container(
        raw_train, gridsize=g, n_groups=cfg.n_groups, neighbor_count=cfg.neighbor_count,
        seed=cfg.seed, nphotons=cfg.nphotons, enable_oversampling=cfg.enable_oversampling,
    )
    test, _ = make_container(
        raw_test, gridsize=g, n_groups=None, neighbor_count=cfg.neighbor_count, seed=0, nphotons=cfg.nphotons,
    )
    assert raw_train.objectGuess is not None and raw_test.objectGuess is not None
    return Datasets(
        train=train, test=test, test_object=raw_test.objectGuess, train_object=raw_train.objectGuess,
        sim=sim, seconds=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    """Held-out metrics of one model state."""

    metrics: dict[str, Any]
    stitched: StitchResult
    predict_seconds: float
    n_patterns: int

    @property
    def ssim(self) -> tuple[float, float]:
        return tuple(float(v) for v in self.metrics["ssim"])  # type: ignore[return-value]

    @property
    def psnr(self) -> tuple[float, float]:
        return tuple(float(v) for v in self.metrics["psnr"])  # type: ignore[return-value]

    @property
    def frc50(self) -> tuple[float, float]:
        return tuple(float(v) for v in self.metrics["frc50"])  # type: ignore[return-value]

    @property
    def shift(self) -> tuple[float, float]:
        s = self.metrics.get("registration_shift")
        return (math.nan, math.nan) if s is None else (float(s[0]), float(s[1]))

    @property
    def shift_norm(self) -> float:
        return float(math.hypot(*self.shift))

    def row(self) -> dict[str, float]:
        return {
            "ssim_amp": self.ssim[0], "ssim_phase": self.ssim[1],
            "psnr_amp": self.psnr[0], "psnr_phase": self.psnr[1],
            "frc50_amp": self.frc50[0], "frc50_phase": self.frc50[1],
            "shift_dy": self.shift[0], "shift_dx": self.shift[1],
        }


def evaluate_patches(
    patches: np.ndarray, container: PtychoDataContainer, ground_truth: np.ndarray, M: int = STITCH_CROP,
    weight: Optional[np.ndarray] = None,
) -> tuple[dict[str, Any], StitchResult]:
    """Stitch predicted ``trimmed_obj`` patches at the group centres and score them
    (``weight``: optional ``(M, M)`` stitch weight, e.g. the probe's illumination)."""
    stitched = stitch_patches(patches, container.global_offsets, M=M, weight=weight)
    metrics = eval_reconstruction(
        stitched.image, ground_truth, canvas_com=stitched.com_xy, register=True, phase_align_method="plane"
    )
    return metrics, stitched


def evaluate_model(
    diffraction_to_obj: Any,
    intensity_scale: float,
    container: PtychoDataContainer,
    ground_truth: np.ndarray,
    *,
    M: int = STITCH_CROP,
    batch_size: int = 64,
    positions: Optional[np.ndarray] = None,
    predict_objects: Optional[Callable[..., np.ndarray]] = None,
    weight: Optional[np.ndarray] = None,
) -> Evaluation:
    """Predict every test group with the stored training ``s`` and score the stitched object.

    ``positions`` overrides the relative offsets fed to the model (used to check that a
    broken input degrades the score); default ``container.coords_nominal``.
    ``predict_objects``: the backend's function of that name (same signature in both
    backends); default the TensorFlow one.
    """
    if predict_objects is None:
        from ptychopinn_plugin.backends.tf import predict_objects

    t0 = time.perf_counter()
    pos = container.coords_nominal if positions is None else positions
    patches = predict_objects(diffraction_to_obj, container.X, pos, intensity_scale, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    metrics, stitched = evaluate_patches(patches, container, ground_truth, M=M, weight=weight)
    return Evaluation(metrics=metrics, stitched=stitched, predict_seconds=seconds, n_patterns=int(container.X.shape[0]))


# ----------------------------------------------------------------------------- training
@dataclass
class Checkpoint:
    """Held-out quality of the model after ``steps`` optimiser steps and ``train_seconds``
    of training (``epoch`` = 0-based index of the epoch in progress or just finished)."""

    epoch: int
    steps: int
    train_seconds: float
    loss: float
    """Training loss of the last finished epoch (NaN before the first)."""
    val_loss: float
    learning_rate: float
    log_scale_gain: float
    """``exp(w)/s`` at this point (1 when ``w`` is frozen)."""
    evaluation: Evaluation
    eval_seconds: float
    load: tuple[float, float, float]


@dataclass
class TrainRun:
    """A training run with its checkpoints (training clock excludes evaluation time)."""

    result: Any
    checkpoints: list[Checkpoint] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    first_epoch_seconds: float = math.nan
    epoch_seconds: list[float] = field(default_factory=list)
    """Training-clock seconds of each epoch, validation included."""
    epoch_batch_seconds: list[float] = field(default_factory=list)
    """Seconds from each epoch's start to the end of its last training batch (no validation)."""
    epoch_batches: list[int] = field(default_factory=list)


def _current_gain(model: Any) -> float:
    from ptychopinn_plugin.backends.tf.models import intensity_scaler_layer

    layer = intensity_scaler_layer(model)
    return math.nan if layer is None else float(layer.scale() / layer.initial_scale)


def train_with_checkpoints(
    container: PtychoDataContainer,
    cfg: TrainingConfig,
    *,
    evaluate: Optional[Callable[[Any, float], Evaluation]] = None,
    eval_epochs: Optional[Sequence[int]] = (),
    eval_interval_seconds: Optional[float] = None,
    eval_at_start: bool = False,
    budget_seconds: Optional[float] = None,
) -> TrainRun:
    """Run :func:`ptychopinn_plugin.backends.tf.train_models` unchanged, with an extra
    Keras callback that times epochs and (optionally) evaluates the model while it trains.

    ``evaluate(diffraction_to_obj, intensity_scale)`` runs: before the first batch when
    ``eval_at_start`` (the untrained model); after every epoch in ``eval_epochs``
    (0-based; None = every epoch); and after the first batch that ends at least
    ``eval_interval_seconds`` of training after the previous evaluation.  Its time is
    excluded from the training clock.  ``budget_seconds``: stop cooperatively (through
    the monitor, after the current batch) once the training clock passes the budget;
    the stopped model is then evaluated too.

    ``train_models`` builds its models internally and exposes no callback list, so the
    callback is added by wrapping ``training.schedule_callbacks`` for the duration of
    the call (restored afterwards; a RuntimeError if the wrapper was not used).
    """
    import keras

    from ptychopinn_plugin.backends.tf import CallbackMonitor, train_models
    from ptychopinn_plugin.backends.tf import training as training_module
    from ptychopinn_plugin.backends.tf.models import intensity_scaler_layer

    run = TrainRun(result=None)
    clock: dict[str, float] = {
        "start": math.nan, "eval": 0.0, "epoch_start": math.nan, "batch_end": math.nan, "batches": 0,
        "steps": 0, "epoch": 0, "last_eval": 0.0, "loss": math.nan, "val_loss": math.nan,
    }
    wanted = None if eval_epochs is None else set(int(e) for e in eval_epochs)

    def train_clock() -> float:
        return time.perf_counter() - clock["start"] - clock["eval"]

    class Checkpointer(keras.callbacks.Callback):
        def on_train_begin(self, logs: Optional[dict] = None) -> None:
            clock["start"] = time.perf_counter()
            if evaluate is not None and eval_at_start:
                self.checkpoint(0.0)

        def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
            clock["epoch_start"] = train_clock()
            clock["batches"] = 0
            clock["epoch"] = epoch

        def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
            now = train_clock()
            clock["batch_end"] = now
            clock["batches"] += 1
            clock["steps"] += 1
            if evaluate is not None and eval_interval_seconds is not None and (
                now - clock["last_eval"] >= eval_interval_seconds
            ):
                self.checkpoint(now)

        def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
            now = train_clock()
            run.epoch_seconds.append(now - clock["epoch_start"])
            run.epoch_batch_seconds.append(clock["batch_end"] - clock["epoch_start"])
            run.epoch_batches.append(int(clock["batches"]))
            logs = logs or {}
            clock["loss"] = float(logs.get("loss", math.nan))
            clock["val_loss"] = float(logs.get("val_loss", math.nan))
            if evaluate is not None and (wanted is None or epoch in wanted):
                self.checkpoint(now)

        def checkpoint(self, now: float) -> None:
            assert evaluate is not None
            t0 = time.perf_counter()
            d2o = keras.Model(self.model.inputs, self.model.outputs[0])
            scale = intensity_scaler_layer(self.model).initial_scale  # the stored s (api §7.3)
            ev = evaluate(d2o, scale)
            elapsed = time.perf_counter() - t0
            clock["eval"] += elapsed
            clock["last_eval"] = now
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            cp = Checkpoint(
                epoch=int(clock["epoch"]), steps=int(clock["steps"]), train_seconds=now, loss=clock["loss"],
                val_loss=clock["val_loss"], learning_rate=lr, log_scale_gain=_current_gain(self.model),
                evaluation=ev, eval_seconds=elapsed, load=os.getloadavg(),
            )
            run.checkpoints.append(cp)
            logger.info(
                "epoch %d step %d (%.1f s training, loss %.6g, val_loss %.6g, lr %.3g): held-out SSIM amp %.4f "
                "phase %.4f shift (%.2f, %.2f) (eval %.1f s, load %.1f)",
                cp.epoch + 1, cp.steps, now, cp.loss, cp.val_loss, lr, ev.ssim[0], ev.ssim[1], *ev.shift,
                elapsed, cp.load[0],
            )

    checkpointer = Checkpointer()
    used = {"n": 0}
    original = training_module.schedule_callbacks

    def with_checkpointer() -> list:
        used["n"] += 1
        return [*original(), checkpointer]

    stop = (lambda: train_clock() > budget_seconds) if budget_seconds is not None else None
    monitor = CallbackMonitor(stop_callback=stop)
    training_module.schedule_callbacks = with_checkpointer
    try:
        result = train_models(container, cfg, monitor=monitor)
    finally:
        training_module.schedule_callbacks = original
    if used["n"] != 1:
        raise RuntimeError("train_models no longer calls training.schedule_callbacks; update _tf_pipeline")
    run.result = result
    run.train_seconds = train_clock() if math.isfinite(clock["start"]) else 0.0
    if run.epoch_seconds:
        run.first_epoch_seconds = run.epoch_seconds[0]
    last = run.checkpoints[-1].steps if run.checkpoints else -1
    if evaluate is not None and last != clock["steps"]:
        checkpointer.checkpoint(run.train_seconds)  # the final (e.g. budget-stopped) state
    run.eval_seconds = clock["eval"]
    return run


# ----------------------------------------------------------------------------- images
def save_comparison_png(path: str | os.PathLike[str], stitched: StitchResult, ground_truth: np.ndarray,
                        title: str = "") -> None:
    """Side-by-side amplitude/phase of the stitched reconstruction and the matching
    ground-truth crop (footprint geometry of physics §10 item 6), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ptychopinn_plugin.evaluation.registration import footprint_crop
    from ptychopinn_plugin.util.atomic import atomic_path

    recon, truth = footprint_crop(stitched.image[..., 0], ground_truth, stitched.com_xy)
    fig, axes = plt.subplots(2, 2, figsize=(8, 8))
    panels = [
        (np.abs(truth), "ground truth |O|"), (np.abs(recon), "stitched |O|"),
        (np.angle(truth), "ground truth arg O"), (np.angle(recon), "stitched arg O"),
    ]
    for ax, (img, name) in zip(axes.ravel(), panels):
        im = ax.imshow(img, cmap="gray")
        ax.set_title(name)
        ax.axis("off")
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def machine_description() -> str:
    """CPU count, CPU model, Python/NumPy/TF versions (for the benchmark records)."""
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # pragma: no cover
        tf_version = "n/a"
    return _machine_description(f"TensorFlow {tf_version}")


def config_with(cfg: TrainingConfig, **changes: Any) -> TrainingConfig:
    """Copy of ``cfg`` with TrainingConfig fields and/or ``model_<field>`` changes."""
    model_changes = {k[len("model_"):]: v for k, v in changes.items() if k.startswith("model_")}
    other = {k: v for k, v in changes.items() if not k.startswith("model_")}
    model = replace(cfg.model, **model_changes) if model_changes else cfg.model
    return replace(cfg, model=model, **other)


def load_recipe(path: str | os.PathLike[str]) -> TrainingConfig:
    """The TrainingConfig of a recipe YAML (flat fields, model fields under ``model:``)."""
    from ptychopinn_plugin.config import build_config, load_yaml_config

    return build_config(TrainingConfig, load_yaml_config(path))


__all__ = [
    "RECIPE_PATH",
    "RECIPE_SIMULATION",
    "STITCH_CROP",
    "Checkpoint",
    "Datasets",
    "Evaluation",
    "ModelConfig",
    "TrainRun",
    "build_datasets",
    "config_with",
    "evaluate_model",
    "evaluate_patches",
    "load_recipe",
    "machine_description",
    "replace_doc_section",
    "make_container",
    "save_comparison_png",
    "simulate_raw",
    "train_with_checkpoints",
]
