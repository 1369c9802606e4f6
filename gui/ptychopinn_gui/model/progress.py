"""Training-run bookkeeping: per-epoch losses, progress and ETA (Qt-free).

Filled from the worker's ``epoch`` messages; the views read it.  The ETA uses the mean
duration of the epochs seen so far (the first epoch includes graph compilation, so the
estimate improves as epochs arrive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["TrainingProgress", "format_duration"]

TRAIN_KEY = "loss"
VAL_KEY = "val_loss"


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class TrainingProgress:
    nepochs: int = 0
    epochs: list[int] = field(default_factory=list)
    """0-based indices of finished epochs."""
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    """Same length as ``epochs`` (NaN where an epoch had no validation)."""
    elapsed: float = 0.0
    """Seconds since training started (as reported by the worker)."""

    def reset(self, nepochs: int) -> None:
        self.nepochs = int(nepochs)
        self.epochs.clear()
        self.train_loss.clear()
        self.val_loss.clear()
        self.elapsed = 0.0

    def record(self, epoch: int, nepochs: int, logs: dict[str, float], elapsed: float) -> None:
        self.nepochs = int(nepochs)
        self.epochs.append(int(epoch))
        self.train_loss.append(float(logs.get(TRAIN_KEY, logs.get("train_loss", math.nan))))
        self.val_loss.append(float(logs.get(VAL_KEY, math.nan)))
        self.elapsed = float(elapsed)

    @property
    def done(self) -> int:
        return len(self.epochs)

    @property
    def has_validation(self) -> bool:
        return any(math.isfinite(v) for v in self.val_loss)

    def eta_seconds(self) -> Optional[float]:
        if not self.epochs or self.nepochs <= 0:
            return None
        remaining = max(0, self.nepochs - self.done)
        return self.elapsed / self.done * remaining

    def status_text(self) -> str:
        if not self.nepochs:
            return "idle"
        loss = f", loss {self.train_loss[-1]:.4g}" if self.train_loss else ""
        return (f"epoch {self.done}/{self.nepochs}{loss}, elapsed {format_duration(self.elapsed)}, "
                f"ETA {format_duration(self.eta_seconds())}")
