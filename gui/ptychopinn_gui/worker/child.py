"""The worker child's main loop (runs in a ``spawn``-ed process; never imports Qt).

Messages sent to the parent are dicts with a ``kind``: ``ready``, ``log``, ``status``,
``device``, ``epoch``, ``preview``, ``started``, ``result``, ``error``.  Every job ends
with exactly one ``result`` or ``error`` carrying its ``job`` id.  Log records of every
library logger are forwarded through a ``QueueHandler``; Python warnings are captured
into logging.  The loop also ends when the parent process disappears.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import queue
import signal
import sys
import traceback
from typing import Any, Callable

from ptychopinn_gui.worker.channel import EventChannel
from ptychopinn_gui.worker.jobs import InferJob, Job, ProbeJob, TrainJob

__all__ = ["worker_main", "run_job"]

logger = logging.getLogger(__name__)


class _ForwardHandler(logging.handlers.QueueHandler):
    """QueueHandler that sends compact dicts instead of LogRecords."""

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put_nowait({"kind": "log", "level": record.levelno, "name": record.name,
                               "message": record.getMessage() if record.args else str(record.msg),
                               "created": record.created})


def install_log_forwarding(channel: EventChannel, level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = _ForwardHandler(channel)  # type: ignore[arg-type]
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    for noisy in ("absl", "h5py", "matplotlib", "PIL", "tensorflow", "lightning.pytorch.utilities.rank_zero",
                  "lightning.fabric.utilities.seed"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _probe(job: ProbeJob, emit: Callable[..., None], should_stop: Callable[[], bool]) -> dict[str, Any]:
    from ptychopinn_plugin.workflows.backend_ops import resolve_backend

    from ptychopinn_gui.worker.device import describe_device

    emit("status", text=f"starting the {job.backend_name} backend")
    resolve_backend(job.backend_name)
    info = describe_device(job.backend_name, job.execution.accelerator if job.execution else None)
    emit("device", **info)
    return info


def _handler(job: Job) -> Callable[..., dict[str, Any]]:
    if isinstance(job, TrainJob):
        from ptychopinn_gui.worker.training_job import run_training

        return run_training
    if isinstance(job, InferJob):
        from ptychopinn_gui.worker.inference_job import run_inference

        return run_inference
    if isinstance(job, ProbeJob):
        return _probe
    raise TypeError(f"unknown job type {type(job).__name__}")


def run_job(job: Job, channel: EventChannel, stop_event: Any) -> None:
    """Run one job; always ends with one ``result`` or ``error`` message."""

    def emit(kind: str, **payload: Any) -> None:
        channel.put({"kind": kind, "job": job.job_id, **payload})

    emit("started", job_kind=job.kind)
    try:
        result = _handler(job)(job, emit, stop_event.is_set)
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the GUI
        logger.error("%s failed: %s: %s", job.job_id, type(exc).__name__, exc)
        emit("error", error_type=type(exc).__name__, message=str(exc) or type(exc).__name__,
             traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return
    emit("result", result=result)


def worker_main(commands: Any, events: Any, stop_event: Any, log_level: int = logging.INFO) -> None:
    """Entry point of the child process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the GUI's to handle
    channel = EventChannel(events)
    install_log_forwarding(channel, log_level)
    channel.put({"kind": "ready", "pid": os.getpid(), "python": sys.version.split()[0]})
    parent = multiprocessing.parent_process()
    try:
        while True:
            try:
                job = commands.get(timeout=0.5)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    break
                continue
            if job is None:
                break
            run_job(job, channel, stop_event)
    finally:
        logging.getLogger().handlers.clear()
        channel.close()
