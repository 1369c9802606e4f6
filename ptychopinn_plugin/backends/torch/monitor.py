"""Progress reporting and cooperative stop for torch training (same protocol as the TF backend).

A caller (workflow, Ptychodus worker, GUI) passes a :class:`TrainingMonitor`:
``on_epoch_end(epoch, nepochs, logs)`` after every complete epoch, with the epoch's
``loss``/``train_loss``, ``val_loss``, per-output losses and ``learning_rate``;
``should_stop()`` polled after every **batch**.  A True answer sets
``trainer.should_stop``: Lightning leaves the batch loop right after that batch (it
still runs the short validation pass it always runs when stopping early), the model
keeps the weights of the batches done, the interrupted epoch is not reported or
recorded, and the result is marked ``completed = False``.

The protocol lives in the framework-neutral :mod:`ptychopinn_plugin.util.progress`, so
one monitor object drives either backend.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

from lightning.pytorch import Callback, LightningModule, Trainer

from ptychopinn_plugin.util.progress import CallbackMonitor, TrainingMonitor

logger = logging.getLogger(__name__)

__all__ = ["TrainingMonitor", "CallbackMonitor", "MonitorBridge"]


class MonitorBridge(Callback):
    """Lightning callback: history per complete epoch, monitor calls, per-batch stop polling.

    The history, batch count and stop flag are kept in ``pl_module.record`` (see
    :class:`~.lightning_module.PtychoLightningModule`), which survives ``ddp_spawn``.
    Under DDP the stop decision is agreed by all ranks after every batch (any rank's
    monitor asking to stop stops every rank), and the monitor is called on rank 0 only.
    """

    def __init__(self, monitor: Optional[TrainingMonitor], nepochs: int) -> None:
        super().__init__()
        self.monitor = monitor
        self.nepochs = int(nepochs)
        self.batches_done = 0
        self.stop_requested = False
        self.history: dict[str, list[float]] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._sync(pl_module)

    def _sync(self, pl_module: LightningModule) -> None:
        record = getattr(pl_module, "record", None)
        if isinstance(record, dict):
            record["history"] = self.history
            record["batches_done"] = self.batches_done
            record["stop_requested"] = self.stop_requested

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_done += 1
        stop = False
        if not self.stop_requested and self.monitor is not None:
            stop = bool(self.monitor.should_stop())
        if int(trainer.world_size) > 1:
            stop = bool(trainer.strategy.reduce_boolean_decision(stop, all=False))
        if stop and not self.stop_requested:
            self.stop_requested = True
            trainer.should_stop = True
            logger.info("training stop requested after %d batches", self.batches_done)
        self._sync(pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.stop_requested:
            return  # interrupted epoch: not a complete epoch, not recorded (as in the TF backend)
        logs = pl_module.epoch_logs()
        epoch = len(self.history.get("loss", []))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self._sync(pl_module)
        if trainer.global_rank != 0:
            return
        logger.info(
            "epoch %d/%d: loss %.6g, val_loss %s", epoch + 1, self.nepochs, logs.get("loss", math.nan),
            f"{logs['val_loss']:.6g}" if "val_loss" in logs else "n/a",
        )
        if self.monitor is not None:
            self.monitor.on_epoch_end(epoch, self.nepochs, dict(logs))
