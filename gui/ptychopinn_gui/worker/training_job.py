"""The training job, run in the worker: data → backend → train with a monitor → archive.

Steps (all through ``ptychopinn_plugin``): read the NPZ files (``load_data``), import
the selected backend (``resolve_backend``) and report the device, train with
``train_cdi_model_with_backend`` and a :class:`GuiMonitor` (per-epoch messages, live
previews, cooperative stop polled after every batch), archive the model with
``session.save_model`` into the run directory, stitch the test reconstruction and score
it against ``objectGuess``.  A stop request keeps the model (archived with
``completed: false``).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ptychopinn_plugin.workflows.backend_ops import resolve_backend
from ptychopinn_plugin.workflows.backend_selector import train_cdi_model_with_backend
from ptychopinn_plugin.workflows.data_prep import load_data
from ptychopinn_plugin.workflows.session import require_current_model, save_model
from ptychopinn_plugin.workflows.stitching import stitch_container

from ptychopinn_gui.model.archive_summary import summarise_archive
from ptychopinn_gui.worker.device import describe_device
from ptychopinn_gui.worker.jobs import TrainJob
from ptychopinn_gui.worker.model_capture import capture_built_models
from ptychopinn_gui.worker.preview import PreviewMaker
from ptychopinn_gui.worker.results import evaluate, plain_history, reconstruction_message

logger = logging.getLogger(__name__)

__all__ = ["GuiMonitor", "run_training", "ARCHIVE_FILE"]

Emit = Callable[..., None]
ARCHIVE_FILE = "wts.h5.zip"


class GuiMonitor:
    """:class:`~ptychopinn_plugin.util.progress.TrainingMonitor` that reports to the GUI."""

    def __init__(self, emit: Emit, should_stop: Callable[[], bool], preview: Optional[PreviewMaker],
                 preview_every: int) -> None:
        self.emit = emit
        self._should_stop = should_stop
        self.preview = preview
        self.preview_every = int(preview_every)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, nepochs: int, logs: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self.started
        clean = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}
        self.emit("epoch", epoch=int(epoch), nepochs=int(nepochs), logs=clean, elapsed=elapsed)
        last = epoch + 1 >= nepochs
        if (self.preview is not None and self.preview_every > 0 and not last
                and (epoch + 1) % self.preview_every == 0 and not self._should_stop()):
            outcome = self.preview.render()
            if outcome is not None:
                self.emit("preview", reconstruction=reconstruction_message(
                    outcome, f"preview after epoch {epoch + 1}/{nepochs} (central {len(self.preview.container)} "
                             "positions)", epoch=int(epoch)))

    def on_pretrain_progress(self, step: int, steps: int, loss: float) -> None:
        """Synthetic pretraining (every tenth of its steps) shows in the status line."""
        self.emit("status", text=f"synthetic pretraining {step}/{steps}, loss {loss:.4g}")

    def should_stop(self) -> bool:
        return bool(self._should_stop())


def run_training(job: TrainJob, emit: Emit, should_stop: Callable[[], bool]) -> dict[str, Any]:
    cfg = job.config
    started = time.perf_counter()
    emit("status", text="loading data")
    train = load_data(job.train_file, cfg.n_subsample, cfg.subsample_seed, diffraction_domain=job.train_domain)
    test = None if not job.test_file else load_data(job.test_file, diffraction_domain=job.test_domain)
    emit("status", text=f"starting the {cfg.backend} backend")
    ops = resolve_backend(cfg.backend)
    emit("device", **describe_device(cfg.backend, job.execution.accelerator if job.execution else None))

    preview_data = test if test is not None else train
    with capture_built_models(cfg.backend) as captured:
        preview = None
        try:
            preview = PreviewMaker(preview_data, cfg, ops, captured, n_positions=job.preview_positions,
                                   stitch_crop_size=job.stitch_crop_size)
        except ValueError as exc:
            logger.warning("no live preview: %s", exc)
        monitor = GuiMonitor(emit, should_stop, preview, job.preview_every)
        emit("status", text="training")
        results = train_cdi_model_with_backend(train, test, cfg, torch_execution_config=job.execution,
                                               monitor=monitor)
        emit("status", text="saving the model")
        model = require_current_model()
        archive = save_model(Path(job.run_dir) / ARCHIVE_FILE, model)

        reconstruction = None
        if results.get("test_container") is not None and results.get("reconstructed_obj") is not None:
            emit("status", text="stitching the test reconstruction")
            outcome = stitch_container(results["test_container"], patches=results["reconstructed_obj"],
                                       M=job.stitch_crop_size)
            metrics = evaluate(outcome, test.objectGuess) if job.evaluate and test is not None else None
            reconstruction = reconstruction_message(outcome, "test data after training", metrics)
        elif preview is not None:
            outcome = preview.render()
            if outcome is not None:
                reconstruction = reconstruction_message(
                    outcome, f"training data, central {len(preview.container)} positions (no test data)")
    history = plain_history(results.get("history"))
    return {
        "archive": str(archive),
        "summary": summarise_archive(archive),  # hashed here, not in the GUI thread
        "history": history,
        "completed": bool(model.completed),
        "backend": model.backend,
        "N": int(model.model_config.N),
        "gridsize": int(model.model_config.gridsize),
        "elapsed": time.perf_counter() - started,
        "reconstruction": reconstruction,
    }
