"""TensorDict batches (data §3.3) and the LightningDataModule of the torch backend.

Batch keys (``batch_size=[B]``):

| key | shape | dtype | value (in-memory container path) |
|---|---|---|---|
| ``images`` | ``(B, C, N, N)`` | float32 | normalised amplitude ``X`` |
| ``rms_scaling_constant`` | ``(B, 1, 1, 1)`` | float32 | 1 (images are already ``X``) |
| ``physics_scaling_constant`` | ``(B, 1, 1, 1)`` | float32 | intensity scale ``s`` |
| ``coords_relative`` | ``(B, C, 1, 2)`` | float32 | container ``coords_nominal`` (model input ``r``) |
| ``coords_offsets`` | ``(B, 1, 1, 2)`` | float32 | group centres |
| ``nn_indices`` | ``(B, C)`` | int64 | |
| ``experiment_id`` | ``(B,)`` | int64 | 0 (single dataset) |
| ``label_amp``, ``label_phase`` | ``(B, C, N, N)`` | float32 | supervised only: ``|Y|``, ``angle(Y)`` |
| ``label_object`` | ``(B, 1, N, N)`` | complex64 | only when the real-space MAE is on: ``Y_c = T_{−r_{b,0}}(Y_{b,0})`` |

Validation = the **last** ``n − int(0.95·n)`` groups, taken before any shuffling
(physics §12.2); training groups are reshuffled every epoch (permutation drawn from
``seed + epoch``; under DDP each rank reads its shard of it).
Batches are built whole from index lists (an :class:`EpochBatchSampler` feeds ``__getitem__``), so
there is no per-sample collation.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence, TypedDict, Unpack

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from tensordict import TensorDict
from torch.utils.data import DataLoader, Dataset, Sampler

from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.util.bilinear import translate

from .container import PtychoDataContainerTorch

logger = logging.getLogger(__name__)

__all__ = [
    "TRAIN_FRACTION",
    "BATCH_KEYS",
    "validation_split",
    "center_ground_truth",
    "GroupRangeDataset",
    "GroupBatchDataset",
    "EpochBatchSampler",
    "LoaderOptions",
    "BatchDataModule",
    "PtychoDataModule",
    "numpy_container",
]

TRAIN_FRACTION = 0.95
BATCH_KEYS = (
    "images",
    "rms_scaling_constant",
    "physics_scaling_constant",
    "coords_relative",
    "coords_offsets",
    "nn_indices",
    "experiment_id",
)


def numpy_container(container: Any) -> PtychoDataContainer:
    """The NumPy container behind ``container`` (NumPy or torch view)."""
    if isinstance(container, PtychoDataContainerTorch):
        return container.numpy
    if isinstance(container, PtychoDataContainer):
        return container
    raise TypeError(f"expected a PtychoDataContainer or PtychoDataContainerTorch; got {type(container).__name__}")


def validation_split(n: int) -> tuple[slice, slice]:
    """``(train, validation)`` slices: the last ``n − int(0.95·n)`` groups validate."""
    n = int(n)
    n_train = int(TRAIN_FRACTION * n)
    if n_train < 1:
        raise ValueError(f"need at least 2 groups to train with a validation split; got {n}")
    return slice(0, n_train), slice(n_train, n)


def center_ground_truth(Y: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``Y_c = T_{−r_{b,0}}(Y_{b,0})`` complex64 ``(B, N, N)`` (channels-last inputs).

    Channel 0's patch, centred on member 0's position, moves by ``−r = p − q`` onto the
    group centre ``q_b`` like ``trimmed_obj`` (data §3.1 ``center``).
    """
    Y = np.asarray(Y)
    coords = np.asarray(coords, dtype=np.float64)
    if Y.ndim != 4 or coords.ndim != 4 or coords.shape[0] != Y.shape[0]:
        raise ValueError(f"center_ground_truth: Y {Y.shape} and coords {coords.shape} must be (B,N,N,C) and (B,1,2,C)")
    moved = translate(Y[..., 0].astype(np.complex64, copy=False), -coords[:, 0, :, 0])
    return moved.astype(np.complex64, copy=False)


def _identity(batch: Any) -> Any:
    """DataLoader ``collate_fn`` for whole batches (module-level so workers can pickle it)."""
    return batch


class GroupRangeDataset(Dataset):
    """Positions ``0..len-1`` of a batch dataset stand for groups ``index`` of its source.

    The range bookkeeping shared by the in-memory and the memory-mapped batch datasets:
    ``index`` is resolved against ``total`` groups (empty → ``ValueError``) and
    :meth:`_rows` turns requested positions into source rows (out of range → ``IndexError``).
    """

    def __init__(self, total: int, index: slice) -> None:
        start, stop, _ = index.indices(int(total))
        if stop <= start:
            raise ValueError(f"empty group range {index} for {total} groups")
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return self.stop - self.start

    def _rows(self, positions: Sequence[int] | int) -> tuple[np.ndarray, np.ndarray]:
        """``(local positions, source rows)``, both int64 ``(B,)``."""
        local = np.atleast_1d(np.asarray(positions, dtype=np.int64))
        if local.size and (local.min() < 0 or local.max() >= len(self)):
            raise IndexError(f"group positions out of range [0, {len(self)}): {local.min()}..{local.max()}")
        return local, local + self.start


class GroupBatchDataset(GroupRangeDataset):
    """Groups ``index`` of a NumPy container; ``dataset[list_of_positions]`` → one TensorDict batch.

    ``supervised`` adds ``label_amp``/``label_phase`` (``ValueError`` without ground
    truth); ``object_target`` adds ``label_object`` (precomputed once for the range).
    """

    def __init__(
        self,
        container: Any,
        index: slice,
        *,
        intensity_scale: float,
        supervised: bool = False,
        object_target: bool = False,
        experiment_id: int = 0,
    ) -> None:
        source = numpy_container(container)
        super().__init__(len(source), index)
        self.source = source
        self.scale = np.float32(intensity_scale)
        self.supervised = bool(supervised)
        self.experiment_id = int(experiment_id)
        if (self.supervised or object_target) and not source.has_ground_truth:
            raise ValueError(
                "training needs ground-truth object patches (Y in the data or an objectGuess) for "
                + ("supervised labels 'label_amp'/'label_phase'" if self.supervised else "the real-space MAE")
                + ", but the container has none"
            )
        self.label_object: Optional[np.ndarray] = None
        if object_target:
            rows = slice(self.start, self.stop)
            self.label_object = center_ground_truth(source.Y[rows], source.coords_nominal[rows])

    def __getitem__(self, positions: Sequence[int] | int) -> TensorDict:
        local, rows = self._rows(positions)
        src = self.source
        b = rows.shape[0]
        x = np.ascontiguousarray(np.asarray(src.X[rows], dtype=np.float32).transpose(0, 3, 1, 2))
        data: dict[str, torch.Tensor] = {
            "images": torch.from_numpy(x),
            "rms_scaling_constant": torch.ones((b, 1, 1, 1), dtype=torch.float32),
            "physics_scaling_constant": torch.full((b, 1, 1, 1), float(self.scale), dtype=torch.float32),
            "coords_relative": torch.from_numpy(
                np.ascontiguousarray(src.coords_nominal[rows].transpose(0, 3, 1, 2), dtype=np.float32)
            ),
            "coords_offsets": torch.from_numpy(
                np.ascontiguousarray(src.global_offsets[rows].transpose(0, 3, 1, 2), dtype=np.float32)
            ),
            "nn_indices": torch.from_numpy(np.ascontiguousarray(src.nn_indices[rows], dtype=np.int64)),
            "experiment_id": torch.full((b,), self.experiment_id, dtype=torch.int64),
        }
        if self.supervised:
            y = np.asarray(src.Y[rows]).transpose(0, 3, 1, 2)
            data["label_amp"] = torch.from_numpy(np.ascontiguousarray(np.abs(y), dtype=np.float32))
            data["label_phase"] = torch.from_numpy(np.ascontiguousarray(np.angle(y), dtype=np.float32))
        if self.label_object is not None:
            data["label_object"] = torch.from_numpy(np.ascontiguousarray(self.label_object[local][:, None]))
        return TensorDict(data, batch_size=[b])


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of dataset positions for one epoch, optionally sharded over DDP ranks.

    ``shuffle``: a fresh permutation every epoch, drawn from ``seed + epoch``, where
    ``epoch`` is set by :meth:`set_epoch` (Lightning calls it before every epoch) and
    advances by one after each iteration, so every pass reshuffles even without it.
    Every rank draws the same permutation and takes every
    ``world_size``-th element from ``rank`` on (the permutation is padded by wrapping
    around so each rank gets the same number of batches, as ``DistributedSampler`` does).
    Without shuffling the order is ``0..n-1``.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        state: Optional[dict[str, int]] = None,
    ) -> None:
        if int(n) < 1 or int(batch_size) < 1:
            raise ValueError(f"EpochBatchSampler needs n >= 1 and batch_size >= 1; got n={n}, batch_size={batch_size}")
        if not 0 <= int(rank) < int(world_size):
            raise ValueError(f"rank {rank} outside [0, world_size={world_size})")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        # ``state`` may be shared by the samplers a data module creates, so the epoch
        # counter survives re-creating the loader.
        self.state = state if state is not None else {"epoch": 0}

    @property
    def epoch(self) -> int:
        return int(self.state["epoch"])

    def set_epoch(self, epoch: int) -> None:
        self.state["epoch"] = int(epoch)

    def _positions(self) -> torch.Tensor:
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        if self.world_size > 1:
            per_rank = -(-self.n // self.world_size)
            total = per_rank * self.world_size
            if total > self.n:
                order = order.repeat(-(-total // self.n))[:total]
            order = order[self.rank : total : self.world_size]
        return order

    def __len__(self) -> int:
        count = -(-self.n // self.world_size)
        return -(-count // self.batch_size)

    def __iter__(self):
        order = self._positions().tolist()
        self.state["epoch"] = self.epoch + 1
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size]


class LoaderOptions(TypedDict, total=False):
    """DataLoader settings a data module passes on (``PyTorchExecutionConfig`` fields)."""

    num_workers: int
    persistent_workers: bool
    prefetch_factor: Optional[int]
    pin_memory: bool


class BatchDataModule(LightningDataModule):
    """Train/validation loaders of whole TensorDict batches from two batch datasets.

    ``train_set``/``val_set`` map a list of positions to one batch (``val_set`` may be
    None: no validation).  Loaders honour the execution config's worker settings; under
    DDP (``trainer.world_size > 1``) every rank reads its own shard.
    """

    def __init__(
        self,
        train_set: Dataset,
        val_set: Optional[Dataset],
        *,
        batch_size: int,
        seed: Optional[int] = None,
        num_workers: int = 0,
        persistent_workers: bool = False,
        prefetch_factor: Optional[int] = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.batch_size = int(batch_size)
        self.seed = seed
        self.num_workers = int(num_workers)
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        self.train_set = train_set
        self.val_set = val_set
        # One base seed for the shuffles of the whole run (drawn at random when seed is None).
        self.shuffle_seed = int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        self._shuffle_state = {"epoch": 0}

    @staticmethod
    def split_sets(
        n: int, make: Callable[[slice], Dataset], *, validation: bool
    ) -> tuple[Dataset, Optional[Dataset]]:
        """``(train, validation)`` datasets made by ``make(group_range)`` for ``n`` groups:
        the :func:`validation_split` ranges, or every group and no validation."""
        if not validation:
            return make(slice(0, int(n))), None
        train_index, val_index = validation_split(n)
        return make(train_index), make(val_index)

    @property
    def has_validation(self) -> bool:
        return self.val_set is not None and len(self.val_set) > 0

    def _ranks(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def _loader(self, dataset: Dataset, *, shuffle: bool) -> DataLoader:
        rank, world_size = self._ranks()
        sampler = EpochBatchSampler(
            len(dataset), self.batch_size, shuffle=shuffle, seed=self.shuffle_seed, rank=rank, world_size=world_size,
            state=self._shuffle_state if shuffle else None,
        )
        extra: dict[str, Any] = {}
        if self.num_workers > 0:
            extra["persistent_workers"] = self.persistent_workers
            if self.prefetch_factor is not None:
                extra["prefetch_factor"] = int(self.prefetch_factor)
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,
            collate_fn=_identity,
            num_workers=self.num_workers,
            pin_memory=False,  # TensorDict batches are pinned in transfer, see PtychoLightningModule
            **extra,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled every epoch (permutation drawn from ``seed + epoch``)."""
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> Any:
        if not self.has_validation:
            return []
        return self._loader(self.val_set, shuffle=False)


class PtychoDataModule(BatchDataModule):
    """Train/validation loaders of TensorDict batches from one container (physics §12.2).

    ``validation=False`` trains on every group and runs no validation; ``loader_options``
    as for :class:`BatchDataModule`.
    """

    def __init__(
        self,
        container: Any,
        *,
        batch_size: int,
        intensity_scale: float,
        seed: Optional[int] = None,
        supervised: bool = False,
        object_target: bool = False,
        validation: bool = True,
        **loader_options: Unpack[LoaderOptions],
    ) -> None:
        source = numpy_container(container)
        train_set, val_set = self.split_sets(
            len(source),
            lambda index: GroupBatchDataset(
                source, index, intensity_scale=intensity_scale, supervised=supervised, object_target=object_target
            ),
            validation=validation,
        )
        super().__init__(train_set, val_set, batch_size=batch_size, seed=seed, **loader_options)
