"""Error dialog and About box."""

from __future__ import annotations

import platform
from typing import Optional

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QMessageBox, QWidget

from ptychopinn_gui.model.versions import package_versions

__all__ = ["error_dialog", "about_text", "show_about"]


def error_dialog(parent: Optional[QWidget], title: str, message: str, details: str = "") -> QMessageBox:
    """A non-blocking (window-modal) error box; the caller keeps a reference or lets Qt own it."""
    box = QMessageBox(parent)
    box.setObjectName("error-dialog")
    box.setIcon(QMessageBox.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.Close)
    box.setWindowModality(Qt.WindowModal)
    box.setAttribute(Qt.WA_DeleteOnClose, True)
    box.show()
    return box


def about_text() -> str:
    versions = package_versions()
    rows = "".join(f"<tr><td>{name}</td><td>{version}</td></tr>" for name, version in versions.items())
    return ("<h3>ptychopinn desktop app</h3>"
            "<p>Physics-informed neural-network ptychography: train, preview and apply models "
            "(TensorFlow or PyTorch, in a worker process).</p>"
            f"<table>{rows}<tr><td>Python</td><td>{platform.python_version()}</td></tr></table>"
            "<p>Framework versions are read from the installed package metadata; the app never "
            "imports TensorFlow or PyTorch itself.</p>")


def show_about(parent: Optional[QWidget]) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("about-dialog")
    box.setWindowTitle("About ptychopinn-gui")
    box.setTextFormat(Qt.RichText)
    box.setText(about_text())
    box.setAttribute(Qt.WA_DeleteOnClose, True)
    box.show()
    return box
