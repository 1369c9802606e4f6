"""The inference job, run in the worker: load the archive, reconstruct, score.

``load_predictor`` follows the archive's backend (only that framework is imported),
``reconstruct`` groups the data (one group per position unless ``n_groups``), predicts
batch by batch into the streaming stitcher, and the result is scored against the
dataset's ``objectGuess`` when present.
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
from ptychopinn_gui.worker.results import evaluate, reconstruction_message

logger = logging.getLogger(__name__)

__all__ = ["run_inference"]


def run_inference(job: InferJob, emit: Callable[..., None], should_stop: Callable[[], bool]) -> dict[str, Any]:
    del should_stop  # inference is short; Cancel terminates the worker
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
    metrics = evaluate(outcome, data.objectGuess) if job.evaluate else None
    rec = reconstruction_message(outcome, f"{job.label} ({len(container)} groups)", metrics)
    rec["archive_sha256"] = loaded.info.archive_sha256 if loaded.info is not None else None
    return {
        "reconstruction": rec,
        "backend": loaded.backend,
        "groups": len(container),
        "elapsed": time.perf_counter() - started,
    }
