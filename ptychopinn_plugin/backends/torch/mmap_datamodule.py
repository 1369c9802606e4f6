"""Batches and the LightningDataModule over a memory-mapped dataset (data §3.3, §4).

Same batch contract as the in-memory :class:`.datamodule.GroupBatchDataset`, with the
memory-mapped meanings: ``images`` = raw grouped amplitudes, ``rms_scaling_constant`` =
the source's ``f``, so ``images·rms·physics_scaling_constant`` is the network input
``s·X`` of the in-memory path.  Each batch is gathered from the memory maps on demand
(only the batch is copied into RAM).  When the experiments have different probes, the
batch also carries ``probe`` ``(B, 1, N, N)`` complex64 (the experiment's normalised
probe); the probes themselves stay in memory.

Validation = the last ``n − int(0.95·n)`` stored groups (physics §12.2).
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np
import torch
from tensordict import TensorDict
from torch.utils.data import Dataset

from .datamodule import BatchDataModule, validation_split
from .mmap_dataset import MmapDataset

logger = logging.getLogger(__name__)

__all__ = ["MmapGroupBatchDataset", "MmapDataModule"]


class MmapGroupBatchDataset(Dataset):
    """Groups ``index`` of a memory-mapped dataset; ``dataset[list_of_positions]`` → one batch."""

    def __init__(self, dataset: MmapDataset, index: slice, *, probes: Optional[np.ndarray] = None) -> None:
        start, stop, _ = index.indices(len(dataset))
        if stop <= start:
            raise ValueError(f"empty group range {index} for {len(dataset)} groups")
        self.dataset = dataset
        self.start = start
        self.stop = stop
        self.probes: Optional[torch.Tensor] = None
        if probes is not None:
            arr = np.asarray(probes, dtype=np.complex64)
            n = dataset.N
            if arr.ndim != 3 or arr.shape[1:] != (n, n) or arr.shape[0] != len(dataset.manifest["experiments"]):
                raise ValueError(
                    f"probes must be (experiments, N, N) = ({len(dataset.manifest['experiments'])}, {n}, {n}); "
                    f"got {arr.shape}"
                )
            self.probes = torch.from_numpy(np.ascontiguousarray(arr))[:, None]

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, positions: Sequence[int] | int) -> TensorDict:
        local = np.atleast_1d(np.asarray(positions, dtype=np.int64))
        if local.size and (local.min() < 0 or local.max() >= len(self)):
            raise IndexError(f"group positions out of range [0, {len(self)}): {local.min()}..{local.max()}")
        batch = self.dataset.batch(local + self.start)
        if self.probes is not None:
            batch.set("probe", self.probes[batch["experiment_id"]])
        return batch


class MmapDataModule(BatchDataModule):
    """Train/validation loaders over a :class:`MmapDataset` (``validation=False``: none)."""

    def __init__(
        self,
        dataset: MmapDataset,
        *,
        batch_size: int,
        seed: Optional[int] = None,
        probes: Optional[np.ndarray] = None,
        num_workers: int = 0,
        persistent_workers: bool = False,
        prefetch_factor: Optional[int] = None,
        pin_memory: bool = False,
        validation: bool = True,
    ) -> None:
        if validation:
            train_index, val_index = validation_split(len(dataset))
            train_set = MmapGroupBatchDataset(dataset, train_index, probes=probes)
            val_set: Optional[MmapGroupBatchDataset] = MmapGroupBatchDataset(dataset, val_index, probes=probes)
        else:
            train_set, val_set = MmapGroupBatchDataset(dataset, slice(0, len(dataset)), probes=probes), None
        super().__init__(
            train_set, val_set, batch_size=batch_size, seed=seed, num_workers=num_workers,
            persistent_workers=persistent_workers, prefetch_factor=prefetch_factor, pin_memory=pin_memory,
        )
        self.dataset = dataset
