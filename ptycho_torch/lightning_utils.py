"""``find_best_checkpoint``: where Ptychodus's training child finds the trained model (§4T.3.5).

Deterministic and loads nothing: ``checkpoints/best.ckpt`` if present, else the most
recently modified ``*.ckpt`` below the run directory other than ``last.ckpt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

__all__ = ["find_best_checkpoint"]


def find_best_checkpoint(run_dir: Union[str, "os.PathLike[str]"]) -> Optional[Path]:
    """The best checkpoint below ``run_dir`` as an absolute path, or None when there is none."""
    root = Path(run_dir)
    best = root / "checkpoints" / "best.ckpt"
    if best.is_file():
        return best.resolve()
    if not root.is_dir():
        return None
    candidates = [p for p in root.rglob("*.ckpt") if p.is_file() and p.name != "last.ckpt"]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime_ns, str(p))).resolve()
