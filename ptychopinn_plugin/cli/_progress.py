"""Per-epoch progress lines for the training CLI (a :class:`~ptychopinn_plugin.util.progress.TrainingMonitor`).

One line per epoch on a text stream (stderr in the CLI, so stdout keeps only the final
result): epoch counter, training and validation loss, learning rate, elapsed time and an
ETA extrapolated from the mean epoch time so far.  The per-output losses of the TF
backend stay in ``history.json`` (they would make the line unreadable).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional, TextIO

__all__ = ["EpochProgressPrinter", "format_seconds"]

_SHOWN = ("loss", "val_loss")


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class EpochProgressPrinter:
    """Writes ``epoch e/n  loss …  val_loss …  lr …  elapsed m:ss  ETA m:ss``."""

    def __init__(self, stream: Optional[TextIO], *, clock: Callable[[], float] = time.monotonic,
                 stop: Optional[Callable[[], bool]] = None) -> None:
        """``stream=None`` prints nothing (``--quiet``) but still answers ``should_stop``."""
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self._stop = stop
        self.lines: list[str] = []

    def on_epoch_end(self, epoch: int, nepochs: int, logs: dict[str, float]) -> None:
        done = epoch + 1
        elapsed = self.clock() - self.start
        eta = elapsed / done * max(nepochs - done, 0)
        parts = [f"epoch {done}/{nepochs}"]
        parts += [f"{key} {logs[key]:.6g}" for key in _SHOWN if key in logs]
        if "learning_rate" in logs:
            parts.append(f"lr {logs['learning_rate']:.3g}")
        parts += [f"elapsed {format_seconds(elapsed)}", f"ETA {format_seconds(eta)}"]
        line = "  ".join(parts)
        self.lines.append(line)
        if self.stream is not None:
            print(line, file=self.stream, flush=True)

    def on_pretrain_progress(self, step: int, steps: int, loss: float) -> None:
        """``pretraining s/S  loss …  elapsed …  ETA …`` (synthetic pretraining reports every
        tenth of its steps); the epoch clock restarts when pretraining ends."""
        elapsed = self.clock() - self.start
        eta = elapsed / max(step, 1) * max(steps - step, 0)
        line = (f"pretraining {step}/{steps}  loss {loss:.6g}  elapsed {format_seconds(elapsed)}  "
                f"ETA {format_seconds(eta)}")
        self.lines.append(line)
        if self.stream is not None:
            print(line, file=self.stream, flush=True)
        if step >= steps:
            self.start = self.clock()

    def should_stop(self) -> bool:
        return bool(self._stop()) if self._stop is not None else False
