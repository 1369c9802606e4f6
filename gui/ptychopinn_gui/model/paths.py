"""Where the app keeps its files: a cache directory and a per-session scratch directory.

``PTYCHOPINN_GUI_CACHE`` overrides the cache location (tests point it to a temporary
directory); otherwise ``$XDG_CACHE_HOME/ptychopinn-gui`` or ``~/.cache/ptychopinn-gui``.
The scratch directory holds per-run model archives and converted datasets until the app
exits; the user keeps results by saving or exporting them explicitly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "SessionDirs"]

ENV_CACHE = "PTYCHOPINN_GUI_CACHE"


def cache_dir() -> Path:
    override = os.environ.get(ENV_CACHE)
    if override:
        base = Path(override)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "ptychopinn-gui"
    base.mkdir(parents=True, exist_ok=True)
    return base


class SessionDirs:
    """A scratch directory for this app session (removed by :meth:`cleanup`)."""

    def __init__(self, root: Path | None = None) -> None:
        parent = root if root is not None else cache_dir() / "sessions"
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="session-", dir=parent))
        self._runs = 0

    def new_run_dir(self, prefix: str = "run") -> Path:
        self._runs += 1
        path = self.root / f"{prefix}-{self._runs:03d}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def data_dir(self) -> Path:
        path = self.root / "data"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
