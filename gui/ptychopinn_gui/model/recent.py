"""Most-recently-used file list (Qt-free; persisted by the settings store)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

__all__ = ["RecentFiles"]


class RecentFiles:
    """Newest first, unique (by resolved path), at most ``limit`` entries."""

    def __init__(self, items: Iterable[str] = (), limit: int = 10) -> None:
        self.limit = int(limit)
        self._items: list[str] = []
        for item in items:
            if item and str(item) not in self._items:
                self._items.append(str(item))
        del self._items[self.limit:]

    @staticmethod
    def _norm(path: str | os.PathLike[str]) -> str:
        return str(Path(path).expanduser().resolve())

    def add(self, path: str | os.PathLike[str]) -> None:
        norm = self._norm(path)
        self._items = [norm] + [p for p in self._items if p != norm]
        del self._items[self.limit:]

    def remove(self, path: str | os.PathLike[str]) -> None:
        norm = self._norm(path)
        self._items = [p for p in self._items if p != norm and p != str(path)]

    def existing(self) -> list[str]:
        return [p for p in self._items if Path(p).exists()]

    def items(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)
