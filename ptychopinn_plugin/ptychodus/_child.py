"""Run one job in a freshly *spawned* child process and stream its messages back.

Why a child process: the Ptychodus GUI process must never import TensorFlow or PyTorch
(Ptychodus 1.7 checks that it holds no GPU context), each job should start from a clean
framework state, and the memory of a training run must be returned to the system when it
ends.  This is the pattern of Ptychodus 1.7's ``subprocess_reconstructor`` with two
additions it lacks:

* **a dead child is an error, never a hang** — Ptychodus blocks on ``queue.get()``
  forever when a child dies without reporting (segfault, OOM kill, ``os._exit``).  Here
  the parent polls with a timeout and checks that the process is alive; a child that is
  gone without having sent its end-of-stream marker raises :class:`ChildProcessDied`.
  Inside the child every ``BaseException`` (incl. ``SystemExit``/``KeyboardInterrupt``)
  is caught and reported;
* **cooperative stop** — a shared ``Event`` the job polls (after every batch when
  training), so a stopped training still saves its model.

Wire protocol (tuples on a ``multiprocessing`` queue, one producer thread so ordering is
preserved): ``('log', levelno, logger_name, message)``, ``('error', type_names,
message, traceback)``, ``('done',)`` (always last), and job-defined tags passed through.
Payloads are plain dataclasses, dicts, strings, floats and NumPy arrays.

Framework-free and Ptychodus-free: it is imported by both sides.
"""

from __future__ import annotations

import builtins
import importlib
import logging
import multiprocessing
import queue as queue_module
import time
import traceback
from multiprocessing.context import SpawnProcess
from typing import Any, Iterator, Optional

logger = logging.getLogger(__name__)

__all__ = [
    "Channel",
    "ChildProcessDied",
    "ChildRun",
    "PtychoPINNChildError",
    "TAG_DONE",
    "TAG_ERROR",
    "TAG_LOG",
]

TAG_LOG = "log"
TAG_ERROR = "error"
TAG_DONE = "done"

_REBUILT_TYPES = (
    "FileNotFoundError", "IsADirectoryError", "NotADirectoryError", "PermissionError", "KeyError", "IndexError",
    "ValueError", "TypeError", "NotImplementedError", "MemoryError", "ModuleNotFoundError", "ImportError",
    "OSError", "RuntimeError",
)
"""Built-in exception types re-raised in the parent as themselves (first match in the
child exception's MRO); anything else becomes :class:`PtychoPINNChildError`."""


class PtychoPINNChildError(RuntimeError):
    """An exception raised in the child; ``child_traceback`` holds the child's traceback text.

    Attached as ``__cause__`` to the re-raised built-in exception, so a printed traceback
    shows where in the child the error happened.
    """

    def __init__(self, message: str, *, child_type: str, child_traceback: str) -> None:
        super().__init__(message)
        self.child_type = child_type
        self.child_traceback = child_traceback

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- child process traceback ---\n{self.child_traceback}"


class ChildProcessDied(RuntimeError):
    """The child process ended without reporting a result or an error (crash, kill, exit)."""

    def __init__(self, message: str, *, exitcode: Optional[int]) -> None:
        super().__init__(message)
        self.exitcode = exitcode


# =========================================================================== child side
class Channel:
    """What a job function receives: ``send`` messages, poll ``stop_requested``."""

    def __init__(self, result_queue: Any, stop_event: Any) -> None:
        self._queue = result_queue
        self._stop_event = stop_event

    def send(self, tag: str, *payload: Any) -> None:
        self._queue.put((tag, *payload))

    def stop_requested(self) -> bool:
        return bool(self._stop_event.is_set())


class _QueueLogHandler(logging.Handler):
    """Forwards the child's log records to the parent's logging tree (same logger names)."""

    def __init__(self, result_queue: Any) -> None:
        super().__init__()
        self._queue = result_queue

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put((TAG_LOG, record.levelno, record.name, self.format(record)))
        except Exception:  # noqa: BLE001 - logging must never break the job
            pass


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def child_main(entry_point: str, payload: Any, result_queue: Any, stop_event: Any, log_level: int) -> None:
    """Target of the spawned process: run ``module:function(payload, channel)`` and report.

    Every failure, including ``SystemExit`` and ``KeyboardInterrupt``, is sent to the
    parent as an ``'error'`` message; ``'done'`` is always sent last.
    """
    handler = _QueueLogHandler(result_queue)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(log_level)
    try:
        module_name, _, function_name = entry_point.partition(":")
        if not function_name:
            raise ValueError(f"entry point {entry_point!r} must be 'module.path:function'")
        function = getattr(importlib.import_module(module_name), function_name)
        function(payload, Channel(result_queue, stop_event))
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent
        try:
            names = tuple(cls.__name__ for cls in type(exc).__mro__)
            result_queue.put((TAG_ERROR, names, _error_message(exc), traceback.format_exc()))
        except BaseException:  # noqa: BLE001 - the parent still sees a dead child
            pass
    finally:
        root.removeHandler(handler)
        try:
            result_queue.put((TAG_DONE,))
            result_queue.close()
            result_queue.join_thread()  # flush before the interpreter exits
        except BaseException:  # noqa: BLE001
            pass


# =========================================================================== parent side
def _rebuild_error(names: tuple[str, ...], message: str, child_traceback: str) -> BaseException:
    child_type = names[0] if names else "Exception"
    cause = PtychoPINNChildError(f"{child_type}: {message}", child_type=child_type, child_traceback=child_traceback)
    for name in names:
        if name in _REBUILT_TYPES:
            exc_type = getattr(builtins, name)
            text = message if name == child_type else f"{child_type}: {message}"
            error = exc_type(text)
            error.__cause__ = cause
            return error
    return cause


class ChildRun:
    """One spawned child running ``entry_point(payload, channel)``; use as a context manager.

    ``messages()`` yields the job's own messages (log records are re-emitted on the
    parent's loggers, errors are raised) and returns when the child reports the end of
    its stream.  Leaving the context terminates a child that is still running.
    """

    def __init__(self, entry_point: str, payload: Any, *, log_level: Optional[int] = None,
                 poll_interval_s: float = 0.2, terminate_grace_s: float = 10.0) -> None:
        self.entry_point = entry_point
        self._payload = payload
        self._log_level = log_level if log_level is not None else _effective_level()
        self._poll_interval_s = poll_interval_s
        self._grace_s = terminate_grace_s
        self._process: Optional[SpawnProcess] = None
        self._queue: Any = None
        self._stop_event: Any = None
        self.finished = False

    def __enter__(self) -> "ChildRun":
        context = multiprocessing.get_context("spawn")
        self._queue = context.Queue()
        self._stop_event = context.Event()
        # Not daemonic: a training child may itself start data-loader or DDP processes.
        self._process = context.Process(
            target=child_main,
            args=(self.entry_point, self._payload, self._queue, self._stop_event, self._log_level),
            name=f"ptychopinn-{self.entry_point.rpartition(':')[2]}",
        )
        self._process.start()
        logger.debug("started child %s (pid %s) for %s", self._process.name, self._process.pid, self.entry_point)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def pid(self) -> Optional[int]:
        return None if self._process is None else self._process.pid

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def request_stop(self) -> None:
        """Ask the job to stop cooperatively (training: after the current batch, then save)."""
        if self._stop_event is not None:
            self._stop_event.set()

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """The job's messages until its end-of-stream marker; raises the child's error."""
        if self._process is None:
            raise RuntimeError("ChildRun.messages() called outside the context manager")
        while True:
            item = self._next_item()
            tag = item[0]
            if tag == TAG_LOG:
                _, levelno, name, message = item
                logging.getLogger(name).log(levelno, message)
                continue
            if tag == TAG_ERROR:
                _, names, message, child_traceback = item
                self.finished = True
                logger.debug("child %s failed:\n%s", self.entry_point, child_traceback)
                raise _rebuild_error(tuple(names), str(message), str(child_traceback))
            if tag == TAG_DONE:
                self.finished = True
                return
            yield item

    def _next_item(self) -> tuple[Any, ...]:
        assert self._process is not None
        while True:
            try:
                return self._queue.get(timeout=self._poll_interval_s)
            except queue_module.Empty:
                pass
            if self._process.is_alive():
                continue
            # The process is gone: whatever it flushed before dying is still readable.
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    return self._queue.get(timeout=0.1)
                except queue_module.Empty:
                    continue
            self.finished = True
            code = self._process.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            raise ChildProcessDied(
                f"the PtychoPINN child process for {self.entry_point} {how} without reporting a result "
                "(crashed, ran out of memory, or was killed); see the console output for details",
                exitcode=code,
            )

    def close(self) -> None:
        """Terminate the child if it is still running, then release the queue."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            if not self.finished:
                logger.info("terminating PtychoPINN child process %s (pid %s)", process.name, process.pid)
            process.join(timeout=0.0 if not self.finished else self._grace_s)
            if process.is_alive():
                process.terminate()
                process.join(timeout=self._grace_s)
            if process.is_alive():
                process.kill()
                process.join()
        else:
            process.join()
        try:
            self._queue.close()
            self._queue.cancel_join_thread()
        except Exception:  # noqa: BLE001
            pass
        self._process = None


def _effective_level() -> int:
    level = logging.getLogger("ptychopinn_plugin").getEffectiveLevel()
    return min(level, logging.INFO)
