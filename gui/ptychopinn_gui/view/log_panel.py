"""Log panel: GUI-process and worker log records, newest at the bottom."""

from __future__ import annotations

import logging
import time
from typing import Optional

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QFontDatabase
from PyQt5.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

__all__ = ["LogPanel", "QtLogBridge"]

MAX_LINES = 5000


class QtLogBridge(QObject):
    """A logging handler's Qt side: ``record(dict)`` is queued to the GUI thread."""

    record = pyqtSignal(dict)


class _Handler(logging.Handler):
    def __init__(self, bridge: QtLogBridge) -> None:
        super().__init__(logging.INFO)
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.record.emit({"level": record.levelno, "name": record.name, "message": self.format(record),
                                     "created": record.created, "source": "gui"})
        except RuntimeError:  # bridge deleted during shutdown
            pass


class LogPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("log")
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        self.bridge = QtLogBridge(self)
        self.bridge.record.connect(self.append_record)
        self.handler = _Handler(self.bridge)

    def append_record(self, record: dict) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.get("created", time.time())))
        level = logging.getLevelName(int(record.get("level", logging.INFO)))
        source = "worker" if record.get("source") != "gui" else "app"
        self.text.appendPlainText(f"{stamp} {level:<7} [{source}] {record.get('name', '')}: {record.get('message', '')}")

    def lines(self) -> list[str]:
        return self.text.toPlainText().splitlines()
