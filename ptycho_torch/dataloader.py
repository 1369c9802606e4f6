"""Seed names of the original's ``ptycho_torch.dataloader`` (§4T.9), as thin wrappers.

Ptychodus uses none of these; they let scripts written against the seed documents run on
our data layer: ``npz_headers`` (shapes and dtypes without loading, canonical
``diffraction`` key first, then the legacy ``diff3d``), ``memory_map_data`` (the
memory-mapped TensorDict dataset of data §4, ``backends/torch/mmap_dataset.py``), and the
Lightning data modules that yield TensorDict batches (data §3.3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from ptychopinn_plugin.data.npz_io import npz_member_infos

__all__ = ["NpzHeaders", "PtychoDataModule", "MmapDataModule", "memory_map_data", "npz_headers"]

DIFFRACTION_KEYS = ("diffraction", "diff3d")

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class NpzHeaders:
    """What an NPZ dataset holds, read from the member headers only."""

    path: Path
    diffraction_key: str
    """'diffraction' (canonical) or 'diff3d' (legacy), in that order of preference."""
    diffraction_shape: tuple[int, ...]
    diffraction_dtype: np.dtype
    members: dict[str, tuple[tuple[int, ...], np.dtype]]
    """Every member: ``key → (shape, dtype)``."""


def npz_headers(path: PathLike) -> NpzHeaders:
    """Shapes and dtypes of a dataset NPZ without loading its arrays (data §1.2)."""
    infos = npz_member_infos(path)
    for key in DIFFRACTION_KEYS:
        if key in infos:
            info = infos[key]
            return NpzHeaders(Path(path), key, info.shape, info.dtype,
                              {k: (v.shape, v.dtype) for k, v in infos.items()})
    raise KeyError(f"{path} has neither 'diffraction' (canonical) nor 'diff3d' (legacy) diffraction data; keys "
                   f"present: {sorted(infos)}")


def memory_map_data(npz_paths: Union[PathLike, Sequence[PathLike]], out_dir: PathLike, *, N: int, gridsize: int = 1,
                    K: int = 4, nphotons: float = 1e9, n_groups: Optional[int] = None, seed: Optional[int] = 0,
                    diffraction_domain: str = "amplitude", overwrite: bool = False) -> Any:
    """Build (or reuse) the memory-mapped dataset of ``npz_paths`` in ``out_dir`` and open
    it (``build_mmap_dataset``: each file an experiment, ``diffraction`` then ``diff3d``)."""
    from ptychopinn_plugin.backends.torch.mmap_dataset import build_mmap_dataset

    return build_mmap_dataset(npz_paths, out_dir, N=N, gridsize=gridsize, K=K, n_groups=n_groups, seed=seed,
                              sequential_sampling=False, enable_oversampling=False, neighbor_pool_size=None,
                              nphotons=nphotons, diffraction_domain=diffraction_domain, overwrite=overwrite)


def __getattr__(name: str) -> Any:
    """The Lightning data modules, imported on first use (they load torch)."""
    if name == "PtychoDataModule":
        from ptychopinn_plugin.backends.torch.datamodule import PtychoDataModule

        return PtychoDataModule
    if name == "MmapDataModule":
        from ptychopinn_plugin.backends.torch.mmap_datamodule import MmapDataModule

        return MmapDataModule
    raise AttributeError(f"module 'ptycho_torch.dataloader' has no attribute {name!r}")
