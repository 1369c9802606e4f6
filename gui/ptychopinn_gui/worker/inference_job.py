"""The inference job, run in the worker: load the archive, reconstruct, check, refine, score.

``load_predictor`` follows the archive's backend (only that framework is imported),
``reconstruct`` groups the data (one group per position unless ``n_groups``), predicts
batch by batch into the streaming stitcher, and the result is scored against the
dataset's ``objectGuess`` when present.  Every reconstruction gets its data-consistency
map (misfit per scan position); with ``refine_iterations > 0`` the object is then refined
through the physics, with progress in the status line, and Stop ends the refinement and
keeps the object reached (Cancel terminates the worker, as for any job).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from ptychopinn_plugin.config import InferenceConfig
from ptychopinn_plugin.workflows.data_prep import load_data
from ptychopinn_plugin.workflows.inference import load_predictor, reconstruct

from ptychopinn_gui.worker.device import describe_device
from ptychopinn_gui.worker.jobs import InferJob
from ptychopinn_gui.worker.results import evaluate, misfit_message, reconstruction_message

logger = logging.getLogger(__name__)

__all__ = ["run_inference"]


def run_inference(job: InferJob, emit: Callable[..., None], should_stop: Callable[[], bool]) -> dict[str, Any]:
    started = time.perf_counter()
    emit("status", text="loading the model")
    predictor, loaded = load_predictor(job.archive)
    emit("device", **describe_device(loaded.backend))
    values = {k: v for k, v in job.inference.items()
              if k not in ("model", "model_path", "test_data_file", "backend")}
    config = InferenceConfig(model=loaded.model_config, model_path=Path(job.archive),
                             test_data_file=Path(job.data_file), backend=loaded.backend, **values)
    emit("status", text="loading data")
    data = load_data(job.data_file, config.n_subsample, config.subsample_seed, diffraction_domain=job.data_domain)
    emit("status", text="reconstructing")
    container, outcome = reconstruct(predictor, data, config)
    refined = _check_and_refine(config, outcome, data, loaded, emit, should_stop)
    outcome = refined.outcome
    metrics = evaluate(outcome, data.objectGuess) if job.evaluate else None
    label = f"{job.label} ({len(container)} groups"
    label += f", refined {refined.iterations_done} iterations)" if refined.after is not None else ")"
    rec = reconstruction_message(outcome, label, metrics, misfit=misfit_message(refined))
    rec["archive_sha256"] = loaded.info.archive_sha256 if loaded.info is not None else None
    return {
        "reconstruction": rec,
        "backend": loaded.backend,
        "groups": len(container),
        "elapsed": time.perf_counter() - started,
    }


def _check_and_refine(config: InferenceConfig, outcome: Any, data: Any, loaded: Any, emit: Callable[..., None],
                      should_stop: Callable[[], bool]) -> Any:
    """The misfit map and, when asked for, the refinement (Stop keeps the object reached)."""
    from ptychopinn_plugin.config.inference_config import refinement_of
    from ptychopinn_plugin.workflows.consistency import ForwardSetup, refine_reconstruction, scan_patterns

    refinement = refinement_of(config)
    forward = ForwardSetup.of_archive(loaded)
    emit("status", text="checking the reconstruction against the data"
         + (f", then refining ({refinement.iterations} iterations)" if refinement.enabled else ""))
    every = max(1, refinement.iterations // 20)

    def progress(iteration: int, loss: float) -> bool:
        if iteration % every == 0 or iteration == refinement.iterations:
            emit("status", text=f"refining {iteration}/{refinement.iterations} (amplitude misfit {loss:.4g})")
        return not should_stop()

    return refine_reconstruction(outcome, scan_patterns(data), forward, refinement, progress=progress)
