"""Persistent settings (``QSettings``, organisation "ptychopinn", application "ptychopinn-gui").

INI format in the user scope, so tests can redirect everything with
``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp_dir)``.  Stores the
window geometry/state, splitter positions, recent files, the last directory of each
file dialog and a few panel choices (silx conventions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PyQt5.QtCore import QByteArray, QSettings

from ptychopinn_gui.model.recent import RecentFiles

__all__ = ["ORGANISATION", "APPLICATION", "AppSettings"]

ORGANISATION = "ptychopinn"
APPLICATION = "ptychopinn-gui"
RECENT_LIMIT = 10


class AppSettings:
    def __init__(self, settings: Optional[QSettings] = None) -> None:
        self.qsettings = settings if settings is not None else QSettings(
            QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION)

    # ---------------------------------------------------------------- generic
    def value(self, key: str, default: Any = None, type_: Optional[type] = None) -> Any:
        if type_ is None:
            return self.qsettings.value(key, default)
        return self.qsettings.value(key, default, type=type_)

    def set_value(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    @property
    def file_name(self) -> str:
        return self.qsettings.fileName()

    # ---------------------------------------------------------------- geometry
    def save_bytes(self, key: str, data: QByteArray) -> None:
        self.qsettings.setValue(key, data)

    def load_bytes(self, key: str) -> Optional[QByteArray]:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # ---------------------------------------------------------------- recent files
    def recent_files(self) -> RecentFiles:
        items = self.qsettings.value("recent/files", [], type=list) or []
        return RecentFiles([str(i) for i in items], limit=RECENT_LIMIT)

    def save_recent_files(self, recent: RecentFiles) -> None:
        self.qsettings.setValue("recent/files", recent.items())

    # ---------------------------------------------------------------- directories
    def last_dir(self, role: str) -> str:
        value = self.qsettings.value(f"dirs/{role}", "", type=str)
        if value and Path(value).is_dir():
            return value
        return str(Path.home())

    def set_last_dir(self, role: str, path: str) -> None:
        p = Path(path)
        self.qsettings.setValue(f"dirs/{role}", str(p if p.is_dir() else p.parent))
