"""One-way event channel from the worker child to the GUI process.

Why a ``Pipe`` and not a ``multiprocessing.Queue``: a Queue's reader blocks forever on a
half-written message from a child that died mid-``send`` because the parent itself holds
the Queue's writer end.  Here the parent closes its copy of the writer right after
starting the child, so a dead child shows up as ``EOFError`` and the GUI reports it
instead of hanging.  The child side is a thread-safe ``put``/``put_nowait`` object so a
``logging.handlers.QueueHandler`` can forward log records through it.

Every message is reduced to plain data (:func:`to_plain`) before it is sent: unpickling
an object whose class lives in a framework (a ``torch.TorchVersion``, a tensor, a
``tf.Tensor``) would import that framework into the GUI process.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from multiprocessing.connection import Connection
from pathlib import PurePath
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["EventChannel", "read_available", "to_plain"]

_SCALARS = (str, int, float, bool, complex, type(None))
_SAFE_MODULES = ("ptychopinn_gui.", "ptychopinn_plugin.")
"""Dataclasses from these packages may travel as they are (their fields are made plain)."""


def to_plain(value: Any) -> Any:
    """``value`` with every framework object replaced by built-ins / NumPy (recursively).

    Built-in scalars are rebuilt with their exact built-in type (a ``str`` subclass such
    as ``TorchVersion`` becomes a ``str``); array-likes (tensors) become NumPy arrays;
    anything else unknown becomes its ``str``.
    """
    if isinstance(value, _SCALARS):
        return value if type(value) in _SCALARS else next(t for t in _SCALARS if isinstance(value, t))(value)
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [to_plain(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, PurePath):
        return value.__class__(str(value)) if type(value).__module__ == "pathlib" else str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) \
            and type(value).__module__.startswith(_SAFE_MODULES):
        return dataclasses.replace(value, **{f.name: to_plain(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    for convert in ("detach", "numpy"):  # torch / TensorFlow tensors
        if hasattr(value, convert) and hasattr(value, "shape"):
            try:
                arr = value.detach().cpu().numpy() if convert == "detach" else value.numpy()
                return np.asarray(arr)
            except Exception:  # noqa: BLE001 - fall back to the text form
                break
    logger.debug("sending %s as text", type(value).__name__)
    return str(value)


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
                self._conn.send(to_plain(message))
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
