"""Qt face of the worker process, with napari-style worker signals.

A ``QTimer`` polls :class:`~ptychopinn_gui.worker.process.WorkerProcess` every
``interval_ms`` (non-blocking reads only) and re-emits what arrived:

* ``started(job_id, kind)`` — the child picked the job up;
* ``yielded(dict)`` — intermediate results: ``epoch`` and ``preview`` messages;
* ``returned(job_id, dict)`` — the job's result;
* ``errored(job_id, dict)`` — an exception in the child, or the child died
  (``error_type == 'WorkerDied'``, exit code in the message);
* ``aborted(job_id)`` — cancelled by the user (child terminated);
* ``finished(job_id)`` — always last, after returned/errored/aborted;
* ``status(str)``, ``device(dict)``, ``log(dict)`` — side channels.

The child is started lazily, reused across jobs, and replaced when a job needs the other
backend than the one it has imported (one framework per process).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from ptychopinn_gui.worker.jobs import Job
from ptychopinn_gui.worker.process import WorkerProcess

logger = logging.getLogger(__name__)

__all__ = ["WorkerController"]


class WorkerController(QObject):
    started = pyqtSignal(str, str)
    yielded = pyqtSignal(dict)
    returned = pyqtSignal(str, dict)
    errored = pyqtSignal(str, dict)
    aborted = pyqtSignal(str)
    finished = pyqtSignal(str)
    status = pyqtSignal(str)
    device = pyqtSignal(dict)
    log = pyqtSignal(dict)
    busy_changed = pyqtSignal(bool)

    def __init__(self, parent: Optional[QObject] = None, *, interval_ms: int = 50,
                 log_level: int = logging.INFO) -> None:
        super().__init__(parent)
        self.worker = WorkerProcess(log_level=log_level)
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_ms))
        self._timer.timeout.connect(self.poll)
        self._job: Optional[Job] = None
        self.cancelling = False

    # ---------------------------------------------------------------- state
    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def current_job(self) -> Optional[Job]:
        return self._job

    @property
    def pid(self) -> Optional[int]:
        return self.worker.pid if self.worker.alive else None

    # ---------------------------------------------------------------- actions
    def submit(self, job: Job) -> None:
        if self.busy:
            raise RuntimeError(f"a job is already running ({self._job.job_id})")
        needed = job.backend
        if self.worker.alive and needed and self.worker.backend not in (None, needed):
            logger.info("restarting the worker: it runs %s, the job needs %s", self.worker.backend, needed)
            self.worker.shutdown(timeout=2.0)
        if not self.worker.alive:
            self.worker.start()
        self._job = job
        self.cancelling = False
        self.worker.submit(job)
        self._timer.setInterval(50)
        self._timer.start()
        self.busy_changed.emit(True)

    def request_stop(self) -> None:
        """Cooperative stop: the child finishes its batch and keeps the model."""
        if self.busy:
            self.worker.request_stop()
            self.status.emit("stop requested: finishing the current batch, then saving the model")

    def cancel(self) -> None:
        """Terminate the child (the job is lost); ``aborted`` follows from the next poll."""
        if self.busy:
            self.cancelling = True
            self.worker.cancel()
            self.status.emit("cancelling: terminating the worker process")
            self._timer.start()

    def shutdown(self) -> None:
        self._timer.stop()
        self.worker.shutdown(timeout=2.0)
        self._job = None

    # ---------------------------------------------------------------- polling
    def poll(self) -> None:
        for msg in self.worker.poll():
            self._dispatch(msg)
        if not self.busy and not self.worker.alive:
            self._timer.stop()
        elif not self.busy:
            # Idle child: keep polling slowly for logs/death, cheaply.
            self._timer.setInterval(max(self._timer.interval(), 200))

    def _end(self, job_id: str) -> None:
        self._job = None
        self.cancelling = False
        self.finished.emit(job_id)
        self.busy_changed.emit(False)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        job_id = str(msg.get("job", ""))
        if kind == "log":
            self.log.emit(msg)
        elif kind == "status":
            self.status.emit(str(msg.get("text", "")))
        elif kind == "device":
            self.device.emit(msg)
        elif kind == "started":
            self._timer.setInterval(50)
            self.started.emit(job_id, str(msg.get("job_kind", "")))
        elif kind in ("epoch", "preview"):
            self.yielded.emit(msg)
        elif kind == "result":
            if self._job is not None and job_id == self._job.job_id:
                self.returned.emit(job_id, msg.get("result") or {})
                self._end(job_id)
        elif kind == "error":
            if self._job is not None and job_id == self._job.job_id:
                self.errored.emit(job_id, msg)
                self._end(job_id)
        elif kind == "aborted":
            if self._job is not None:
                self.aborted.emit(self._job.job_id)
                self._end(self._job.job_id)
        elif kind == "exited":
            self.status.emit(f"worker process exited (code {msg.get('exitcode')})")
