"""Framework-neutral training progress and cooperative-stop interface.

Both backends report through the same :class:`TrainingMonitor`, so a workflow, the
Ptychodus worker or the desktop app can watch and stop training without knowing which
framework runs it.  After every epoch the monitor receives that epoch's losses; after
every **batch** its ``should_stop()`` is polled, and a True answer ends training at once
while keeping the weights of the batches done so far (the result is then marked
``completed = False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, runtime_checkable


@runtime_checkable
class TrainingMonitor(Protocol):
    """Progress sink and cooperative stop switch.

    ``on_epoch_end(epoch, nepochs, logs)``: ``epoch`` is the 0-based index of the epoch
    just finished, ``nepochs`` the configured total, ``logs`` floats with at least
    ``loss``/``train_loss`` and ``val_loss`` (when validation ran) plus backend extras.
    ``should_stop()`` is polled after every batch: keep it cheap (e.g. an Event).
    """

    def on_epoch_end(self, epoch: int, nepochs: int, logs: dict[str, float]) -> None: ...

    def should_stop(self) -> bool: ...


@dataclass
class CallbackMonitor:
    """Convenience :class:`TrainingMonitor` built from two optional callables.

    Also records every epoch's logs in ``epochs`` so tests and scripts can inspect them.
    """

    epoch_callback: Optional[Callable[[int, int, dict[str, float]], None]] = None
    stop_callback: Optional[Callable[[], bool]] = None
    epochs: list[tuple[int, dict[str, float]]] = field(default_factory=list)

    def on_epoch_end(self, epoch: int, nepochs: int, logs: dict[str, float]) -> None:
        self.epochs.append((epoch, dict(logs)))
        if self.epoch_callback is not None:
            self.epoch_callback(epoch, nepochs, logs)

    def should_stop(self) -> bool:
        return bool(self.stop_callback()) if self.stop_callback is not None else False


class NonFiniteTrainingError(RuntimeError):
    """Training produced a NaN/Inf loss, weight or intensity scale.

    Raised by both backends as soon as a batch loss is non-finite (training stops; the
    model is not archived) and by the workflow before a model is registered, so an
    archive is never written with non-finite weights or scales (issue #15 item 1).
    """


def non_finite_loss_message(loss: float, batch: int, epoch: int) -> str:
    """The message of a non-finite batch loss: what happened and the likely causes."""
    return (
        f"training stopped: the loss became {loss} at batch {batch} of epoch {epoch + 1}; no model is saved. "
        "Likely causes: an nphotons far from the data's real dose (it sets the intensity scale, physics §3), "
        "non-finite or extreme values in the diffraction data, or a learning rate too high for this data"
    )
