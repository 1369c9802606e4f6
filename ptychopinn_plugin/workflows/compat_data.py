"""Data names of the ``ptycho`` shim: ``raw_data.RawData``, ``loader.load``, ``PtychoDataset``.

Only argument translation lives here (api spec §4, §5.1):

* ``RawData`` defaults to ``diffraction_domain='auto'`` because Ptychodus hands over raw
  detector counts (integer dtype → converted to amplitude, data §1.4);
* its ``generate_grouped_data`` reads ``nsamples`` as groups **per scan position**, the
  meaning Ptychodus's "Number of Samples" setting was designed for: gridsize 1 → every
  position exactly once (``nsamples`` ignored); gridsize > 1 → ``nsamples × M`` groups,
  with oversampling enabled only when that exceeds ``M``.  The core API keeps
  ``nsamples`` = total number of groups;
* ``load`` returns the TensorFlow view of the NumPy container (tensors on access).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import numpy as np

from ptychopinn_plugin.data.container import loader_load
from ptychopinn_plugin.data.raw_data import RawData as CoreRawData

logger = logging.getLogger(__name__)

__all__ = ["SHIM_DIFFRACTION_DOMAIN", "RawData", "shim_group_request", "load", "PtychoDataset"]

SHIM_DIFFRACTION_DOMAIN = "auto"


def shim_group_request(nsamples: Optional[int], gridsize: int, n_positions: int,
                       enable_oversampling: bool = False) -> tuple[Optional[int], bool]:
    """Core ``(nsamples, enable_oversampling)`` for a shim ``nsamples`` (per scan position)."""
    if gridsize == 1:
        if nsamples not in (None, 1):
            logger.info("gridsize 1: every scan position is grouped once; nsamples = %s is ignored", nsamples)
        return None, bool(enable_oversampling)
    per_position = 1 if nsamples is None else int(nsamples)
    if per_position < 1:
        raise ValueError(f"nsamples = {nsamples!r} is invalid; allowed: an integer >= 1 (groups per scan position)")
    total = per_position * int(n_positions)
    return total, bool(enable_oversampling) or total > int(n_positions)


class RawData(CoreRawData):
    """:class:`ptychopinn_plugin.data.RawData` with the shim's defaults (see module docstring)."""

    def __init__(self, *args: Any, diffraction_domain: str = SHIM_DIFFRACTION_DOMAIN, **kwargs: Any) -> None:
        super().__init__(*args, diffraction_domain=diffraction_domain, **kwargs)

    @classmethod
    def from_file(cls, path: Any, *, diffraction_domain: str = SHIM_DIFFRACTION_DOMAIN) -> "RawData":
        return super().from_file(path, diffraction_domain=diffraction_domain)

    @classmethod
    def from_coords_without_pc(cls, xcoords: Any, ycoords: Any, diff3d: Any, probeGuess: Any, scan_index: Any,
                               objectGuess: Any = None, *,
                               diffraction_domain: str = SHIM_DIFFRACTION_DOMAIN) -> "RawData":
        return super().from_coords_without_pc(xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess,
                                              diffraction_domain=diffraction_domain)

    @classmethod
    def from_files(cls, train_path: Any, test_path: Any, *,
                   diffraction_domain: str = SHIM_DIFFRACTION_DOMAIN) -> tuple["RawData", "RawData | None"]:
        return super().from_files(train_path, test_path, diffraction_domain=diffraction_domain)

    def generate_grouped_data(self, N: int, K: int = 4, nsamples: Optional[int] = 1, dataset_path: Any = None,
                              seed: Optional[int] = None, sequential_sampling: bool = False,
                              gridsize: Optional[int] = None, enable_oversampling: bool = False,
                              neighbor_pool_size: Optional[int] = None) -> dict[str, Any]:
        """Grouping with ``nsamples`` = groups per scan position (api spec §5.1)."""
        if gridsize is None:
            from ptychopinn_plugin.config import legacy_params

            gridsize = int(legacy_params.cfg["gridsize"])
        total, oversample = shim_group_request(nsamples, int(gridsize), len(self), enable_oversampling)
        return super().generate_grouped_data(
            N, K=K, nsamples=total, dataset_path=dataset_path, seed=seed, sequential_sampling=sequential_sampling,
            gridsize=gridsize, enable_oversampling=oversample, neighbor_pool_size=neighbor_pool_size,
        )


def load(cb: Callable[[], Any], probeGuess: Any, which: Optional[str] = None, create_split: bool = False,
         nphotons: Optional[float] = None) -> Any:
    """``ptycho.loader.load`` (data §3.1): a container with TensorFlow tensor attributes."""
    from ptychopinn_plugin.workflows.backend_ops import import_tf_backend

    import_tf_backend()
    from ptychopinn_plugin.backends.tf.container import PtychoDataContainerTF

    container = loader_load(cb, np.asarray(probeGuess), which, create_split, nphotons)
    return PtychoDataContainerTF(container)


class PtychoDataset:
    """A train/test pair of containers (the original ``ptycho.loader.PtychoDataset``)."""

    def __init__(self, train_data: Any, test_data: Any) -> None:
        self.train_data = train_data
        self.test_data = test_data

    def __repr__(self) -> str:
        return f"PtychoDataset(train_data={self.train_data!r}, test_data={self.test_data!r})"
