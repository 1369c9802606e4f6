"""Child-process entry points: training and reconstruction (runs only in a spawned child).

The only module of this package that reaches a deep-learning framework, and only through
the workflow layer (the framework is imported when a backend is resolved).  It never
imports Ptychodus: it receives :mod:`._jobs` descriptions and sends plain values back
over the :class:`~._child.Channel`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.ptychodus._child import Channel
from ptychopinn_plugin.ptychodus._jobs import (
    TAG_EPOCH,
    TAG_RECONSTRUCTED,
    TAG_TRAINED,
    TEST_FILE,
    TRAIN_FILE,
    ReconstructJob,
    TrainJob,
)

logger = logging.getLogger(__name__)

__all__ = ["reconstruct", "selftest", "train"]


class _ChannelMonitor:
    """``TrainingMonitor`` that reports every epoch to the parent and polls its stop switch."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def on_epoch_end(self, epoch: int, nepochs: int, logs: dict[str, float]) -> None:
        values = {str(k): float(v) for k, v in logs.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        self._channel.send(TAG_EPOCH, int(epoch), int(nepochs), values)

    def on_pretrain_progress(self, step: int, steps: int, loss: float) -> None:
        """Synthetic pretraining progress: logged in the worker (Ptychodus shows epochs only)."""
        logger.info("synthetic pretraining %d/%d, loss %.4g", step, steps, loss)

    def should_stop(self) -> bool:
        return self._channel.stop_requested()


def _file_domain(path: os.PathLike[str], configured: str) -> str:
    """Domain to read a training file with: its own ``_metadata`` decides when it has one."""
    import zipfile

    from ptychopinn_plugin.data.npz_io import NpzReader

    try:
        with NpzReader(path) as reader:
            metadata = reader.read_metadata() or {}
    except zipfile.BadZipFile as exc:  # the data layer lets this one through
        raise ValueError(f"{path} is not a readable NPZ archive: {exc}") from exc
    if metadata.get("diffraction_domain") is not None:
        return "auto"  # data §1.4: the recorded domain wins
    return configured


def _recorded_nphotons(metadata: Optional[dict[str, Any]]) -> Optional[float]:
    from ptychopinn_plugin.data.npz_io import metadata_nphotons

    value = metadata_nphotons(metadata)
    if value is None and metadata:
        estimate = metadata.get("nphotons_estimate")
        if isinstance(estimate, (int, float)) and not isinstance(estimate, bool):
            value = float(estimate)
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return value


def train(job: TrainJob, channel: Channel) -> None:
    """Train on ``input_dir`` (data §5.1), archive to ``output_dir/wts.h5.zip``, write outputs."""
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend
    from ptychopinn_plugin.workflows.outputs import save_outputs
    from ptychopinn_plugin.workflows.session import require_current_model, save_model

    paths = [job.input_dir / TRAIN_FILE, job.input_dir / TEST_FILE]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"training data not found: expected {path} (export it with "
                                    "'Export Training Data…'; a training directory holds train_data.npz and "
                                    "test_data.npz)")
    train_data, test_data = (RawData.from_file(p, diffraction_domain=_file_domain(p, job.diffraction_domain))
                             for p in paths)
    n = int(train_data.diff3d.shape[-1])
    if train_data.diff3d.shape[-2] != n:
        raise ValueError(f"{paths[0]}: Model requires square diffraction patterns; got {train_data.diff3d.shape}")

    config = job.training_config
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, N=n))
    if job.nphotons_from_data:
        recorded = _recorded_nphotons(train_data.metadata)
        if recorded is not None and not math.isclose(recorded, config.nphotons, rel_tol=1e-9):
            logger.info("nphotons = %.6g from %s (setting NumPhotons = %.6g not used)", recorded, paths[0],
                        config.nphotons)
            config = dataclasses.replace(config, nphotons=recorded)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    logger.info("training %s (%s backend): N=%d, gridsize=%d, %d epochs, %s groups", config.model.model_type,
                config.backend, n, config.model.gridsize, config.nepochs, config.n_groups)

    amplitude, phase, results = run_cdi_example_with_backend(
        train_data, test_data, config, M=job.stitch_crop_size, do_stitching=True,
        torch_execution_config=job.execution_config, monitor=_ChannelMonitor(channel),
    )
    model = require_current_model()
    archive = save_model(job.output_dir, model)
    save_outputs(amplitude, phase, results, job.output_dir)
    history = {str(k): [float(v) for v in values] for k, values in (results.get("history") or {}).items()
               if isinstance(values, (list, tuple))}
    channel.send(TAG_TRAINED, str(archive), bool(model.completed), history)


def reconstruct(job: ReconstructJob, channel: Channel) -> None:
    """Load the archive (its own backend), group one per scan position, predict, stitch."""
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.workflows.inference import load_predictor, reconstruct as run_reconstruction

    arrays = job.arrays
    raw = RawData(
        arrays["xcoords"], arrays["ycoords"], arrays["xcoords_start"], arrays["ycoords_start"], arrays["diff3d"],
        arrays["probeGuess"], arrays["scan_index"], arrays.get("objectGuess"),
        metadata=arrays.get("metadata"), diffraction_domain="amplitude", source="Ptychodus reconstruct input",
    )
    predictor, loaded = load_predictor(job.archive, batch_size=job.batch_size, device=job.device)
    logger.info("reconstructing %d positions with the %s model (N=%d, gridsize=%d)", len(raw), loaded.backend,
                predictor.N, predictor.gridsize)
    container, outcome = run_reconstruction(predictor, raw, job.inference_config)
    outcome = _check_and_refine(job, outcome, raw, loaded, channel)
    com = tuple(float(v) for v in outcome.geometry.com_xy)
    channel.send(TAG_RECONSTRUCTED, np.ascontiguousarray(outcome.object, dtype=np.complex64), com, len(container))


def _check_and_refine(job: ReconstructJob, outcome: Any, raw: Any, loaded: Any, channel: Channel) -> Any:
    """Log the data-consistency map; refine when the settings ask for it (Stop keeps the object reached)."""
    from ptychopinn_plugin.config.inference_config import refinement_of
    from ptychopinn_plugin.workflows.consistency import (
        ForwardSetup,
        consistency_line,
        refine_reconstruction,
        scan_patterns,
    )

    refinement = refinement_of(job.inference_config)
    forward = ForwardSetup.of_archive(loaded)
    every = max(1, refinement.iterations // 10)

    def progress(iteration: int, loss: float) -> bool:
        if iteration % every == 0:
            logger.info("refinement %d/%d: amplitude misfit %.4g", iteration, refinement.iterations, loss)
        return not channel.stop_requested()

    refined = refine_reconstruction(outcome, scan_patterns(raw), forward, refinement, progress=progress)
    logger.info("%s", consistency_line("network", refined.before.summary()))
    if refined.after is not None:
        logger.info("%s", consistency_line("after refinement", refined.after.summary()))
    return refined.outcome


def selftest(job: dict[str, Any], channel: Channel) -> None:
    """Exercise the child machinery without a framework (``ptychopinn-ptychodus --self-test``, tests).

    ``job['mode']``: ``'ok'`` (echo ``job['value']``), ``'raise'`` (``ValueError``),
    ``'exit'`` (``os._exit`` — a child that dies without reporting), ``'wait'`` (report,
    then wait for the stop switch and report again).
    """
    mode = job.get("mode")
    if mode == "ok":
        channel.send("echo", job.get("value"))
    elif mode == "raise":
        raise ValueError(f"selftest failure requested ({job.get('value')!r})")
    elif mode == "exit":
        os._exit(int(job.get("value", 3)))
    elif mode == "wait":
        channel.send("waiting", os.getpid())
        import time

        deadline = time.monotonic() + float(job.get("value", 30.0))
        while not channel.stop_requested():
            if time.monotonic() > deadline:
                raise TimeoutError("selftest: no stop request arrived")
            time.sleep(0.02)
        channel.send("stopped", os.getpid())
    else:
        raise ValueError(f"selftest mode {mode!r} is invalid; allowed: 'ok', 'raise', 'exit', 'wait'")
