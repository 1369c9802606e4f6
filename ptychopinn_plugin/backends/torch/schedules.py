"""Learning-rate schedules of api spec §2.6 (``PyTorchExecutionConfig.scheduler``).

* ``ReduceLROnPlateau`` (default, TF parity, physics §12.2): on ``val_loss``, factor 0.5,
  min lr 1e-4, cooldown 0, absolute threshold 1e-4.  Keras ``patience=2`` halves the lr
  after 2 consecutive bad epochs; torch reduces after ``patience + 1`` bad epochs, hence
  ``patience=1`` here.
* ``Default``: constant lr (no scheduler).
* ``Exponential``: ``lr·0.95^epoch``.
* ``WarmupCosine``: linear warm-up over ``lr_warmup_epochs`` epochs
  (``lr·(e+1)/(warmup+1)`` for ``e < warmup``), then cosine decay from ``lr`` to
  ``lr·lr_min_ratio`` over the remaining ``nepochs − warmup`` epochs.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch

from ptychopinn_plugin.config import PyTorchExecutionConfig

__all__ = [
    "PLATEAU_FACTOR",
    "PLATEAU_PATIENCE",
    "PLATEAU_THRESHOLD",
    "PLATEAU_MIN_LR",
    "EXPONENTIAL_GAMMA",
    "warmup_cosine_factor",
    "build_scheduler",
]

PLATEAU_FACTOR = 0.5
PLATEAU_PATIENCE = 1
PLATEAU_THRESHOLD = 1e-4
PLATEAU_MIN_LR = 1e-4
EXPONENTIAL_GAMMA = 0.95


def warmup_cosine_factor(epoch: int, *, warmup_epochs: int, total_epochs: int, min_ratio: float) -> float:
    """Multiplier of the base lr at ``epoch`` (0-based) for ``WarmupCosine``."""
    if epoch < warmup_epochs:
        return (epoch + 1) / (warmup_epochs + 1)
    span = max(1, total_epochs - warmup_epochs)
    t = min(epoch - warmup_epochs, span) / span
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    execution_config: PyTorchExecutionConfig,
    *,
    nepochs: int,
    monitor: str = "val_loss",
) -> Optional[dict[str, Any]]:
    """Lightning ``lr_scheduler`` config dict for ``execution_config.scheduler`` (None = constant)."""
    name = execution_config.scheduler
    if name == "Default":
        return None
    if name == "ReduceLROnPlateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=PLATEAU_FACTOR,
            patience=PLATEAU_PATIENCE,
            threshold=PLATEAU_THRESHOLD,
            threshold_mode="abs",
            cooldown=0,
            min_lr=PLATEAU_MIN_LR,
        )
        return {"scheduler": scheduler, "monitor": monitor, "interval": "epoch", "frequency": 1, "strict": True}
    if name == "Exponential":
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=EXPONENTIAL_GAMMA)
        return {"scheduler": scheduler, "interval": "epoch", "frequency": 1}
    if name == "WarmupCosine":
        warmup = int(execution_config.lr_warmup_epochs)
        ratio = float(execution_config.lr_min_ratio)
        total = int(nepochs)

        def factor(epoch: int) -> float:
            return warmup_cosine_factor(epoch, warmup_epochs=warmup, total_epochs=total, min_ratio=ratio)

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)
        return {"scheduler": scheduler, "interval": "epoch", "frequency": 1}
    raise ValueError(f"PyTorchExecutionConfig.scheduler = {name!r} is not supported")
