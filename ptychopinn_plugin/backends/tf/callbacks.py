"""Training callbacks: the cooperative-stop/progress interface and the §12.2 schedule.

A caller (workflow, Ptychodus worker, GUI) passes a :class:`TrainingMonitor`.  After
every epoch it receives the epoch's losses; after every **batch** its ``should_stop()``
is polled, and a True answer ends training at once — the model keeps the weights of
the batches done so far and the result is marked ``completed = False``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import keras

from ptychopinn_plugin.util.progress import (
    CallbackMonitor,
    NonFiniteTrainingError,
    TrainingMonitor,
    non_finite_loss_message,
)

logger = logging.getLogger(__name__)

__all__ = [
    "TrainingMonitor",
    "CallbackMonitor",
    "StopRequested",
    "MonitorCallback",
    "schedule_callbacks",
    "LR_FACTOR",
    "LR_PATIENCE",
    "LR_MIN_DELTA",
    "LR_MIN",
    "EARLY_STOP_PATIENCE",
]

LR_FACTOR = 0.5
LR_PATIENCE = 2
LR_MIN_DELTA = 1e-4
LR_MIN = 1e-4
EARLY_STOP_PATIENCE = 3


class StopRequested(Exception):
    """Raised inside ``fit`` to leave the batch loop immediately (caught by training)."""


def _as_floats(logs: Optional[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    if "loss" in out:
        out["train_loss"] = out["loss"]
    return out


class MonitorCallback(keras.callbacks.Callback):
    """Bridges Keras callbacks to a :class:`TrainingMonitor`; counts finished batches."""

    def __init__(self, monitor: Optional[TrainingMonitor], nepochs: int) -> None:
        super().__init__()
        self.monitor = monitor
        self.nepochs = int(nepochs)
        self.batches_done = 0
        self.stop_requested = False
        self._epoch = 0

    def on_train_batch_end(self, batch: int, logs: Optional[dict[str, Any]] = None) -> None:
        self.batches_done += 1
        loss = _as_floats(logs).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteTrainingError(non_finite_loss_message(loss, batch + 1, self._epoch))
        if self.monitor is not None and self.monitor.should_stop():
            self.stop_requested = True
            logger.info("training stop requested after %d batches", self.batches_done)
            raise StopRequested()

    def on_epoch_begin(self, epoch: int, logs: Optional[dict[str, Any]] = None) -> None:
        self._epoch = int(epoch)

    def on_epoch_end(self, epoch: int, logs: Optional[dict[str, Any]] = None) -> None:
        values = _as_floats(logs)
        logger.info(
            "epoch %d/%d: loss %.6g, val_loss %s", epoch + 1, self.nepochs, values.get("loss", math.nan),
            f"{values['val_loss']:.6g}" if "val_loss" in values else "n/a",
        )
        if self.monitor is not None:
            self.monitor.on_epoch_end(epoch, self.nepochs, values)


def schedule_callbacks() -> list[keras.callbacks.Callback]:
    """ReduceLROnPlateau on ``val_loss`` and EarlyStopping on ``loss`` (physics §12.2)."""
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=LR_FACTOR, patience=LR_PATIENCE, min_delta=LR_MIN_DELTA,
            min_lr=LR_MIN, cooldown=0, mode="min", verbose=0,
        ),
        keras.callbacks.EarlyStopping(
            monitor="loss", patience=EARLY_STOP_PATIENCE, min_delta=0.0, mode="min",
            restore_best_weights=False, verbose=0,
        ),
    ]
