"""One-way event channel from the worker child to the GUI process.

Why a ``Pipe`` and not a ``multiprocessing.Queue``: a Queue's reader blocks forever on a
half-written message from a child that died mid-``send`` because the parent itself holds
the Queue's writer end.  Here the parent closes its copy of the writer right after
starting the child, so a dead child shows up as ``EOFError`` and the GUI reports it
instead of hanging.  The child side is a thread-safe ``put``/``put_nowait`` object so a
``logging.handlers.QueueHandler`` can forward log records through it.
"""

from __future__ import annotations

import threading
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["EventChannel", "read_available"]


class EventChannel:
    """Child side: send small dict messages (thread-safe)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.closed = False

    def put(self, message: dict[str, Any], block: bool = True, timeout: float | None = None) -> None:
        del block, timeout
        if self.closed:
            return
        with self._lock:
            try:
                self._conn.send(message)
            except (BrokenPipeError, EOFError, OSError):
                self.closed = True  # parent gone: nothing more to report

    put_nowait = put

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._conn.close()


def read_available(conn: Connection, limit: int = 500) -> tuple[list[dict[str, Any]], bool]:
    """Parent side: ``(messages that are ready, eof)`` without blocking on an idle pipe."""
    messages: list[dict[str, Any]] = []
    try:
        while len(messages) < limit and conn.poll(0):
            messages.append(conn.recv())
    except (EOFError, OSError):
        return messages, True
    return messages, False
