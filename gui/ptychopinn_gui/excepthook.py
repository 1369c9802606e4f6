"""Global exception hook: every uncaught exception is logged and shown in an error dialog.

PyQt5 aborts the process on an exception escaping a slot when the default
``sys.excepthook`` is installed; with this hook the app survives, logs the traceback and
tells the user.  Exceptions from other threads are marshalled to the GUI thread through
a queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Callable, Optional

from PyQt5.QtCore import QObject, pyqtSignal

logger = logging.getLogger("ptychopinn_gui")

__all__ = ["ExceptionHook", "install_excepthook"]


class ExceptionHook(QObject):
    caught = pyqtSignal(str, str, str)
    """(title, message, traceback text) — delivered in the GUI thread."""

    def __init__(self, show: Callable[[str, str, str], None]) -> None:
        super().__init__()
        self.caught.connect(show)
        self.previous = sys.excepthook
        self.previous_thread = threading.excepthook
        self.count = 0

    def __call__(self, exc_type: type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self.previous(exc_type, exc, tb)
            return
        self.count += 1
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        logger.error("unhandled exception: %s: %s\n%s", exc_type.__name__, exc, text)
        try:
            self.caught.emit("Unexpected error", f"{exc_type.__name__}: {exc}", text)
        except RuntimeError:  # during shutdown the QObject may be gone
            pass

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        self(args.exc_type, args.exc_value, args.exc_traceback)  # type: ignore[arg-type]

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous
        if threading.excepthook == self.thread_hook:
            threading.excepthook = self.previous_thread


def install_excepthook(show: Callable[[str, str, str], None]) -> ExceptionHook:
    hook = ExceptionHook(show)
    sys.excepthook = hook
    threading.excepthook = hook.thread_hook
    return hook
