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
(physics §12.2); training groups are reshuffled every epoch by a seeded generator.
Batches are built whole from index lists (a ``BatchSampler`` feeds ``__getitem__``), so
there is no per-sample collation.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from tensordict import TensorDict
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.util.bilinear import translate

from .container import PtychoDataContainerTorch

logger = logging.getLogger(__name__)

__all__ = [
    "TRAIN_FRACTION",
    "BATCH_KEYS",
    "validation_split",
    "center_ground_truth",
    "GroupBatchDataset",
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


class GroupBatchDataset(Dataset):
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
        start, stop, _ = index.indices(len(source))
        if stop <= start:
            raise ValueError(f"empty group range {index} for {len(source)} groups")
        self.source = source
        self.start = start
        self.stop = stop
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
            self.label_object = center_ground_truth(source.Y[start:stop], source.coords_nominal[start:stop])

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, positions: Sequence[int] | int) -> TensorDict:
        local = np.atleast_1d(np.asarray(positions, dtype=np.int64))
        if local.size and (local.min() < 0 or local.max() >= len(self)):
            raise IndexError(f"group positions out of range [0, {len(self)}): {local.min()}..{local.max()}")
        rows = local + self.start
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


class PtychoDataModule(LightningDataModule):
    """Train/validation loaders of TensorDict batches from one container (physics §12.2)."""

    def __init__(
        self,
        container: Any,
        *,
        batch_size: int,
        intensity_scale: float,
        seed: Optional[int] = None,
        supervised: bool = False,
        object_target: bool = False,
        num_workers: int = 0,
        persistent_workers: bool = False,
        prefetch_factor: Optional[int] = None,
        pin_memory: bool = False,
    ) -> None:
        super().__init__()
        source = numpy_container(container)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.batch_size = int(batch_size)
        self.seed = seed
        self.num_workers = int(num_workers)
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = bool(pin_memory)
        train_index, val_index = validation_split(len(source))
        common = dict(intensity_scale=intensity_scale, supervised=supervised, object_target=object_target)
        self.train_set = GroupBatchDataset(source, train_index, **common)
        self.val_set = GroupBatchDataset(source, val_index, **common)
        self._shuffle_generator = torch.Generator()
        if seed is None:
            self._shuffle_generator.seed()
        else:
            self._shuffle_generator.manual_seed(int(seed))

    def _loader(self, dataset: GroupBatchDataset, sampler: torch.utils.data.Sampler) -> DataLoader:
        extra: dict[str, Any] = {}
        if self.num_workers > 0:
            extra["persistent_workers"] = self.persistent_workers
            if self.prefetch_factor is not None:
                extra["prefetch_factor"] = int(self.prefetch_factor)
        return DataLoader(
            dataset,
            sampler=BatchSampler(sampler, batch_size=self.batch_size, drop_last=False),
            batch_size=None,
            collate_fn=_identity,
            num_workers=self.num_workers,
            pin_memory=False,  # TensorDict batches are pinned in transfer, see PtychoLightningModule
            **extra,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled every epoch (a fresh permutation per iteration of the seeded sampler)."""
        return self._loader(self.train_set, RandomSampler(self.train_set, generator=self._shuffle_generator))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, SequentialSampler(self.val_set))
