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
from typing import Optional, Sequence, Unpack

import numpy as np
import torch
from tensordict import TensorDict

from .datamodule import BatchDataModule, GroupRangeDataset, LoaderOptions
from .mmap_dataset import MmapDataset

logger = logging.getLogger(__name__)

__all__ = ["MmapGroupBatchDataset", "MmapDataModule"]


class MmapGroupBatchDataset(GroupRangeDataset):
    """Groups ``index`` of a memory-mapped dataset; ``dataset[list_of_positions]`` → one batch."""

    def __init__(self, dataset: MmapDataset, index: slice, *, probes: Optional[np.ndarray] = None) -> None:
        super().__init__(len(dataset), index)
        self.dataset = dataset
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

    def __getitem__(self, positions: Sequence[int] | int) -> TensorDict:
        _, rows = self._rows(positions)
        batch = self.dataset.batch(rows)
        if self.probes is not None:
            batch.set("probe", self.probes[batch["experiment_id"]])
        return batch


class MmapDataModule(BatchDataModule):
    """Train/validation loaders over a :class:`MmapDataset` (``validation=False``: none);
    ``loader_options`` as for :class:`.datamodule.BatchDataModule`."""

    def __init__(
        self,
        dataset: MmapDataset,
        *,
        batch_size: int,
        seed: Optional[int] = None,
        probes: Optional[np.ndarray] = None,
        validation: bool = True,
        **loader_options: Unpack[LoaderOptions],
    ) -> None:
        train_set, val_set = self.split_sets(
            len(dataset), lambda index: MmapGroupBatchDataset(dataset, index, probes=probes), validation=validation
        )
        super().__init__(train_set, val_set, batch_size=batch_size, seed=seed, **loader_options)
        self.dataset = dataset
