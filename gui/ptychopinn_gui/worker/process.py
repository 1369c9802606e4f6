"""Parent-side handle of the worker child (Qt-free; polled by a Qt timer).

Semantics:

* :meth:`WorkerProcess.start` spawns the child (``multiprocessing`` 'spawn' context) from
  a short-lived helper thread and returns at once: ``Process.start()`` waits (in
  ``vfork``) until the new interpreter has exec'd, which on a loaded machine took over
  2 s measured — time the GUI thread must not spend.  Jobs submitted meanwhile wait in
  the command queue; the child imports its modules (and later a framework) on its own time;
* :meth:`submit` queues a job; one job runs at a time and the child is reused for the next
  one (the framework import is paid once);
* :meth:`request_stop` sets the shared Event polled by the training monitor after every
  batch ("Stop and keep model");
* :meth:`cancel` terminates the child (SIGTERM, then SIGKILL after ``kill_after`` s) — the
  job ends with an ``aborted`` event; a fresh child is spawned for the next job;
* :meth:`poll` never blocks: it returns the messages that are ready, escalates a pending
  cancel, and turns a child that died without finishing its job into an ``error`` event
  (exit code in the message) — the GUI never waits on a dead child.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
import time
from typing import Any, Optional

from ptychopinn_gui.worker.channel import read_available
from ptychopinn_gui.worker.child import worker_main
from ptychopinn_gui.worker.jobs import Job

logger = logging.getLogger(__name__)

__all__ = ["WorkerProcess"]


class WorkerProcess:
    def __init__(self, log_level: int = logging.INFO, kill_after: float = 1.0) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self.log_level = int(log_level)
        self.kill_after = float(kill_after)
        self._proc: Optional[multiprocessing.process.BaseProcess] = None
        self._reader: Any = None
        self._commands: Any = None
        self._stop: Any = None
        self._kill_deadline: Optional[float] = None
        self._cancelled_job: Optional[str] = None
        self.current_job: Optional[Job] = None
        self.backend: Optional[str] = None
        """Framework the child has imported (from its ``device`` messages)."""
        self.pid: Optional[int] = None
        self.start_seconds: Optional[float] = None
        """How long :meth:`start` blocked the caller (measured; should be milliseconds)."""
        self.launch_seconds: Optional[float] = None
        """How long ``Process.start()`` took in the helper thread."""
        self._launcher: Optional[threading.Thread] = None
        self._launch_error: Optional[BaseException] = None
        self._atexit_registered = False

    # ---------------------------------------------------------------- lifecycle
    @property
    def starting(self) -> bool:
        """The helper thread is still launching the child."""
        return self._launcher is not None and self._launcher.is_alive()

    @property
    def alive(self) -> bool:
        return self._proc is not None and (self.starting or self._proc.is_alive())

    def wait_started(self, timeout: Optional[float] = None) -> bool:
        """Block until the child is launched (tests, shutdown); True when it is."""
        if self._launcher is not None:
            self._launcher.join(timeout)
        return not self.starting

    @property
    def busy(self) -> bool:
        return self.current_job is not None

    @property
    def process(self) -> Optional[multiprocessing.process.BaseProcess]:
        return self._proc

    def start(self) -> None:
        if self.alive:
            return
        self._discard()
        t0 = time.perf_counter()
        reader, writer = self._ctx.Pipe(duplex=False)
        self._commands = self._ctx.Queue()
        self._stop = self._ctx.Event()
        proc = self._ctx.Process(target=worker_main, args=(self._commands, writer, self._stop, self.log_level),
                                 name="ptychopinn-gui-worker")
        # Not a daemon: the PyTorch backend may start DataLoader workers (daemons cannot
        # have children).  shutdown() and the atexit hook end it instead.
        self._proc, self._reader = proc, reader
        self.pid = None
        self.backend = None
        self._launch_error = None
        self._launcher = threading.Thread(target=self._launch, args=(proc, writer), name="ptychopinn-worker-launch",
                                          daemon=True)
        self._launcher.start()
        self.start_seconds = time.perf_counter() - t0
        if not self._atexit_registered:
            atexit.register(self.shutdown, 1.0)
            self._atexit_registered = True

    def _launch(self, proc: multiprocessing.process.BaseProcess, writer: Any) -> None:
        t0 = time.perf_counter()
        try:
            proc.start()
        except BaseException as exc:  # noqa: BLE001 - reported by poll()
            self._launch_error = exc
        finally:
            writer.close()  # only the child writes: its death becomes EOF on our end
        self.launch_seconds = time.perf_counter() - t0
        self.pid = proc.pid
        logger.info("started worker process %s in %.3f s", proc.pid, self.launch_seconds)

    def submit(self, job: Job) -> None:
        if self.busy:
            raise RuntimeError(f"the worker is busy with {self.current_job.job_id}")
        if not self.alive:
            self.start()
        self._stop.clear()
        self.current_job = job
        self._commands.put(job)

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def cancel(self) -> None:
        """Terminate the child now; the current job ends with an ``aborted`` event."""
        if self._proc is None:
            return
        self.wait_started()
        if self.current_job is not None:
            self._cancelled_job = self.current_job.job_id
        if self._proc.is_alive():
            self._proc.terminate()
            self._kill_deadline = time.monotonic() + self.kill_after
        logger.info("cancel: terminating worker process %s", self._proc.pid)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Ask the child to exit, then terminate/kill it if it does not within ``timeout``."""
        proc = self._proc
        if proc is None:
            return
        self.wait_started(timeout)
        if proc.is_alive() and self.current_job is not None:
            proc.terminate()  # busy: it would not read the exit request before its job ends
            proc.join(timeout / 2)
        if proc.is_alive():
            try:
                self._commands.put(None)
            except (OSError, ValueError):
                pass
            proc.join(timeout / 2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout / 2)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        self.current_job = None
        self._discard()

    def _discard(self) -> None:
        """Forget the current child's pipes (never read a dead child's channel again)."""
        for obj in (self._reader,):
            try:
                if obj is not None:
                    obj.close()
            except OSError:
                pass
        if self._commands is not None:
            self._commands.close()
            self._commands.cancel_join_thread()
        if self._proc is not None and self._proc.exitcode is not None:
            try:
                self._proc.close()
            except ValueError:
                pass
        self._proc = self._reader = self._commands = None
        self._kill_deadline = None

    # ---------------------------------------------------------------- polling
    def poll(self, limit: int = 500) -> list[dict[str, Any]]:
        """Messages ready now (never blocks), plus synthetic ``aborted``/``error`` events."""
        if self._proc is None:
            return []
        if self.starting:
            return []
        if self._launch_error is not None:
            return self._launch_failed()
        messages: list[dict[str, Any]] = []
        if self._kill_deadline is not None:
            if self._proc.is_alive() and time.monotonic() >= self._kill_deadline:
                logger.warning("worker %s ignored SIGTERM; killing it", self._proc.pid)
                self._proc.kill()
                self._kill_deadline = None
        if self._cancelled_job is None:
            messages, eof = read_available(self._reader, limit)
        else:
            eof = True  # a cancelled child's channel may hold a half-written message: ignore it
        for msg in messages:
            self._track(msg)
        if eof or not self._proc.is_alive():
            if self._proc.is_alive():
                return messages  # EOF seen but the process has not been reaped yet
            if not eof and self._cancelled_job is None:
                more, _ = read_available(self._reader, limit)  # drain what it sent before exiting
                for msg in more:
                    self._track(msg)
                messages += more
            messages += self._on_exit()
        return messages

    def _track(self, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        if kind == "device":
            self.backend = msg.get("backend")
        elif kind in ("result", "error") and self.current_job is not None and msg.get("job") == self.current_job.job_id:
            self.current_job = None

    def _launch_failed(self) -> list[dict[str, Any]]:
        exc = self._launch_error
        events: list[dict[str, Any]] = []
        if self.current_job is not None:
            events.append({"kind": "error", "job": self.current_job.job_id, "error_type": "WorkerDied",
                           "message": f"the worker process could not be started: {type(exc).__name__}: {exc}",
                           "traceback": ""})
        events.append({"kind": "exited", "exitcode": None, "pid": None})
        logger.error("the worker process could not be started: %s", exc)
        self.current_job = None
        self._launch_error = None
        self._discard()
        return events

    def _on_exit(self) -> list[dict[str, Any]]:
        code = self._proc.exitcode
        events: list[dict[str, Any]] = []
        if self._cancelled_job is not None:
            events.append({"kind": "aborted", "job": self._cancelled_job, "exitcode": code})
        elif self.current_job is not None:
            events.append({
                "kind": "error", "job": self.current_job.job_id, "error_type": "WorkerDied",
                "message": f"the worker process (pid {self.pid}) exited with code {code} before "
                           f"{self.current_job.job_id} finished" + _signal_hint(code),
                "traceback": "",
            })
        events.append({"kind": "exited", "exitcode": code, "pid": self.pid})
        logger.info("worker process %s exited with code %s", self.pid, code)
        self.current_job = None
        self._cancelled_job = None
        self._discard()
        return events



def _signal_hint(code: Optional[int]) -> str:
    if code is None or code >= 0:
        return ""
    import signal

    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f" (killed by signal {-code})"
    hint = " — possibly out of memory" if name == "SIGKILL" else ""
    return f" (killed by {name}{hint})"
