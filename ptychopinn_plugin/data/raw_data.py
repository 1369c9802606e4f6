"""``RawData``: one scan's positions, patterns, probe and optional ground truth (data §2.1).

Attribute names follow the original API because Ptychodus reads them directly
(``raw.diff3d.shape``, ``raw.probeGuess``).  ``diff3d`` always holds the canonical
float32 amplitude, whatever key or domain it was read from.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.data.grouped import build_grouped_dict
from ptychopinn_plugin.data.grouping import group_indices
from ptychopinn_plugin.data.npz_dataset import load_dataset_arrays, save_dataset_arrays
from ptychopinn_plugin.data.validation import (
    canonical_coords,
    canonical_object,
    canonical_probe,
    canonical_scan_index,
    canonical_Y,
    check_domain,
    resolve_diffraction_layout,
    to_amplitude,
)

logger = logging.getLogger(__name__)

_PER_POSITION = ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "scan_index", "Y")


class RawData:
    """Canonical in-memory dataset.

    The positional signature is the original one:
    ``RawData(xcoords, ycoords, xcoords_start, ycoords_start, diff3d, probeGuess,
    scan_index, objectGuess=None, Y=None, norm_Y_I=None, metadata=None)``.
    Inputs are validated and canonicalised (data §1.3–§1.5, §1.7); ``diff3d`` is taken
    to be amplitude unless ``diffraction_domain`` says otherwise.  Arrays already in
    canonical dtype are stored without copying.
    """

    xcoords: np.ndarray
    ycoords: np.ndarray
    xcoords_start: np.ndarray
    ycoords_start: np.ndarray
    diff3d: np.ndarray | None
    probeGuess: np.ndarray
    scan_index: np.ndarray
    objectGuess: np.ndarray | None
    Y: np.ndarray | None
    norm_Y_I: Any
    metadata: dict[str, Any] | None
    sample_indices: np.ndarray | None
    extra_arrays: dict[str, np.ndarray]

    def __init__(
        self,
        xcoords: Any,
        ycoords: Any,
        xcoords_start: Any,
        ycoords_start: Any,
        diff3d: Any,
        probeGuess: Any,
        scan_index: Any,
        objectGuess: Any = None,
        Y: Any = None,
        norm_Y_I: Any = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        sample_indices: Any = None,
        extra_arrays: Mapping[str, np.ndarray] | None = None,
        diffraction_domain: str = "amplitude",
        source: str = "RawData",
    ) -> None:
        check_domain(diffraction_domain)
        x, y, xs, ys = canonical_coords(xcoords, ycoords, xcoords_start, ycoords_start, source=source)
        m = int(x.shape[0])
        meta = dict(metadata) if metadata is not None else None
        if diff3d is not None:
            patterns = resolve_diffraction_layout(diff3d, m, source=source, key="diff3d")
            amplitude: np.ndarray | None = to_amplitude(patterns, diffraction_domain, metadata=meta,
                                                        source=source, key="diff3d")
            n: int | None = int(amplitude.shape[1])
        else:
            amplitude, n = None, None
        self._assign(
            xcoords=x, ycoords=y, xcoords_start=xs, ycoords_start=ys, diff3d=amplitude,
            probeGuess=canonical_probe(probeGuess, n, source=source),
            scan_index=canonical_scan_index(scan_index, m, source=source),
            objectGuess=canonical_object(objectGuess, source=source),
            Y=canonical_Y(Y, m, n, source=source),
            norm_Y_I=norm_Y_I, metadata=meta,
            sample_indices=_canonical_sample_indices(sample_indices, m, source),
            extra_arrays=dict(extra_arrays or {}), source_path=None,
        )

    def _assign(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def _from_canonical(cls, **fields: Any) -> "RawData":
        """Build from arrays that are already canonical and validated (no second pass)."""
        obj = cls.__new__(cls)
        defaults: dict[str, Any] = {"objectGuess": None, "Y": None, "norm_Y_I": None, "metadata": None,
                                    "sample_indices": None, "extra_arrays": {}, "source_path": None}
        defaults.update(fields)
        obj._assign(**defaults)
        return obj

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, diffraction_domain: str = "amplitude") -> "RawData":
        """Load a canonical (or legacy) NPZ dataset, applying data spec §1."""
        arrays = load_dataset_arrays(path, diffraction_domain=diffraction_domain)
        logger.info("loaded %s: %d patterns of %d×%d (key %r)", arrays.path, arrays.diffraction.shape[0],
                    arrays.diffraction.shape[1], arrays.diffraction.shape[2], arrays.diffraction_key)
        return cls._from_canonical(
            xcoords=arrays.xcoords, ycoords=arrays.ycoords, xcoords_start=arrays.xcoords_start,
            ycoords_start=arrays.ycoords_start, diff3d=arrays.diffraction, probeGuess=arrays.probeGuess,
            scan_index=arrays.scan_index, objectGuess=arrays.objectGuess, Y=arrays.Y,
            metadata=arrays.metadata, extra_arrays=arrays.extra_arrays, source_path=arrays.path,
        )

    @classmethod
    def from_coords_without_pc(
        cls,
        xcoords: Any,
        ycoords: Any,
        diff3d: Any,
        probeGuess: Any,
        scan_index: Any,
        objectGuess: Any = None,
        *,
        diffraction_domain: str = "amplitude",
    ) -> "RawData":
        """Start coordinates = coordinates; accepts integer counts and ``(P, N, N)`` probe stacks."""
        return cls(xcoords, ycoords, xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess,
                   diffraction_domain=diffraction_domain, source="RawData.from_coords_without_pc")

    @classmethod
    def from_files(
        cls, train_path: str | os.PathLike[str], test_path: str | os.PathLike[str] | None, *,
        diffraction_domain: str = "amplitude",
    ) -> tuple["RawData", "RawData | None"]:
        """``(train, test)``; ``test`` is None when ``test_path`` is None."""
        train = cls.from_file(train_path, diffraction_domain=diffraction_domain)
        test = None if test_path is None else cls.from_file(test_path, diffraction_domain=diffraction_domain)
        return train, test

    # ------------------------------------------------------------------ writing
    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the §1.8 schema (uncompressed, atomic, no object arrays).

        Unknown keys read from the source file (``extra_arrays``, e.g. ``bad_pixels``) are
        written back unchanged; ``_metadata`` keeps its fields with
        ``diffraction_domain = "amplitude"``.
        """
        if self.diff3d is None:
            raise ValueError(f"cannot write {path}: this RawData has no diffraction patterns (position-only)")
        save_dataset_arrays(
            path, diffraction=self.diff3d, xcoords=self.xcoords, ycoords=self.ycoords,
            xcoords_start=self.xcoords_start, ycoords_start=self.ycoords_start, probeGuess=self.probeGuess,
            scan_index=self.scan_index, objectGuess=self.objectGuess, Y=self.Y, metadata=self.metadata,
            extra_arrays=self.extra_arrays,
        )

    # ------------------------------------------------------------------ queries
    @property
    def N(self) -> int | None:
        """Pattern side, or None for a position-only object."""
        return None if self.diff3d is None else int(self.diff3d.shape[1])

    def __len__(self) -> int:
        return int(self.xcoords.shape[0])

    def __repr__(self) -> str:
        diff = None if self.diff3d is None else self.diff3d.shape
        obj = None if self.objectGuess is None else self.objectGuess.shape
        return (f"RawData(M={len(self)}, diff3d={diff}, probeGuess={self.probeGuess.shape}, "
                f"objectGuess={obj}, Y={'yes' if self.Y is not None else 'no'})")

    def select(self, indices: Any) -> "RawData":
        """A new RawData holding positions ``indices`` (probe/object shared, not copied).

        ``sample_indices`` of the result index the original source file.  Extra arrays
        whose first axis has length M (other than ``bad_pixels``) are taken to be per
        position and subset too; the others are kept unchanged.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        m = len(self)
        if idx.size and (idx.min() < -m or idx.max() >= m):
            raise IndexError(f"selection indices out of range for {m} positions")
        fields: dict[str, Any] = {}
        for name in _PER_POSITION:
            value = getattr(self, name)
            fields[name] = None if value is None else value[idx]
        base = self.sample_indices if self.sample_indices is not None else np.arange(m, dtype=np.int64)
        extras = {key: (value[idx] if key != "bad_pixels" and value.ndim >= 1 and value.shape[0] == m else value)
                  for key, value in self.extra_arrays.items()}
        return type(self)._from_canonical(
            **fields, probeGuess=self.probeGuess, objectGuess=self.objectGuess, norm_Y_I=self.norm_Y_I,
            metadata=None if self.metadata is None else dict(self.metadata), sample_indices=base[idx],
            extra_arrays=extras, source_path=getattr(self, "source_path", None),
        )

    # ------------------------------------------------------------------ grouping
    def generate_grouped_data(
        self,
        N: int,
        K: int = 4,
        nsamples: int | None = 1,
        dataset_path: Any = None,
        seed: int | None = None,
        sequential_sampling: bool = False,
        gridsize: int | None = None,
        enable_oversampling: bool = False,
        neighbor_pool_size: int | None = None,
    ) -> dict[str, Any]:
        """Group positions (data §2.2) and return the dictionary of data §2.3.

        ``nsamples`` is the total number of groups (``None`` = one per position).
        ``gridsize=None`` reads ``legacy_params.cfg['gridsize']`` for compatibility only;
        library code passes it explicitly.  ``dataset_path`` is accepted and ignored.
        """
        del dataset_path  # signature compatibility only
        if gridsize is None:
            from ptychopinn_plugin.config import legacy_params

            gridsize = int(legacy_params.cfg["gridsize"])
            logger.debug("generate_grouped_data: gridsize from params.cfg = %d", gridsize)
        nn = group_indices(
            self.xcoords, self.ycoords, gridsize=gridsize, K=K, nsamples=nsamples, seed=seed,
            sequential_sampling=sequential_sampling, enable_oversampling=enable_oversampling,
            neighbor_pool_size=neighbor_pool_size,
        )
        logger.info("grouped %d positions into %d groups of %d (K=%d, seed=%s, sequential=%s)",
                    len(self), nn.shape[0], nn.shape[1], K, seed, sequential_sampling)
        return build_grouped_dict(self, N, nn)


def _canonical_sample_indices(value: Any, m: int, source: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != m or arr.dtype.kind not in "iu":
        raise ValueError(f"{source}: sample_indices must be ({m},) integers; got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64, copy=False)
