"""Opening datasets for the app: canonical NPZ files and Ptychodus products (data §1, §6).

The GUI process reads data with NumPy/h5py only.  A dataset is handed to the worker
process as a *file path* to a canonical NPZ (never as pickled arrays): an NPZ is used
as is; a product plus its diffraction file is converted once with the library's
``product_to_raw_data`` and written to the session's cache directory.

:class:`DatasetSummary` is what the Data panel shows: pattern count, N, the photon
estimate ``mean_m Σ amplitude²`` (data §1.4), probe, scan positions and ground truth.
Loading errors propagate unchanged, so the panel shows the data contract's message.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.data.normalisation import pattern_energies
from ptychopinn_plugin.data.npz_io import metadata_nphotons
from ptychopinn_plugin.data.raw_data import RawData

logger = logging.getLogger(__name__)

__all__ = [
    "DOMAINS",
    "DatasetSummary",
    "LoadedDataset",
    "error_text",
    "load_npz_dataset",
    "load_product_dataset",
    "is_product_path",
]

DOMAINS = ("amplitude", "intensity", "auto")
PRODUCT_SUFFIXES = (".h5", ".hdf5")


@dataclass(frozen=True)
class DatasetSummary:
    """Facts about a loaded dataset, for display (all plain NumPy/Python values)."""

    source: str
    kind: str
    """``'npz'`` or ``'product'``."""
    n_patterns: int
    N: int
    photons_mean: float
    """``mean_m Σ_pixels amplitude²`` (the photons per pattern when the data are counts)."""
    metadata_nphotons: Optional[float]
    diffraction_domain: str
    probe: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    object_shape: Optional[tuple[int, int]]
    has_patches: bool
    """``Y`` ground-truth patches present."""

    @property
    def has_ground_truth(self) -> bool:
        return self.object_shape is not None

    def rows(self) -> list[tuple[str, str]]:
        """``(label, value)`` pairs for a read-only form."""
        x_span = float(np.ptp(self.xcoords)) if self.xcoords.size else 0.0
        y_span = float(np.ptp(self.ycoords)) if self.ycoords.size else 0.0
        rows = [
            ("Source", self.source),
            ("Diffraction patterns", f"{self.n_patterns}"),
            ("Pattern size N", f"{self.N} × {self.N}"),
            ("Photons / pattern (mean Σ A²)", f"{self.photons_mean:.4g}"),
            ("Domain read as", self.diffraction_domain),
            ("Scan extent (px)", f"{x_span:.1f} × {y_span:.1f}"),
            ("Ground truth object", "none" if self.object_shape is None else f"{self.object_shape[1]} × "
                                                                            f"{self.object_shape[0]} (objectGuess)"),
            ("Ground-truth patches Y", "yes" if self.has_patches else "no"),
        ]
        if self.metadata_nphotons is not None:
            rows.insert(4, ("nphotons (metadata)", f"{self.metadata_nphotons:.4g}"))
        return rows


@dataclass
class LoadedDataset:
    """A dataset ready for the app: the data, the NPZ path the worker reads, and a summary."""

    raw: RawData
    npz_path: Path
    """Canonical NPZ holding exactly ``raw`` (amplitude domain)."""
    summary: DatasetSummary
    source_paths: tuple[Path, ...]
    """What the user opened (NPZ; or product + diffraction file)."""
    product: Any = None
    """The input :class:`~ptychopinn_plugin.io.Product` when opened from a product."""
    diffraction_domain: str = "amplitude"

    @property
    def worker_domain(self) -> str:
        """Domain the worker must use to read :attr:`npz_path` (converted files are amplitude)."""
        return "amplitude" if self.product is not None else self.diffraction_domain


def error_text(exc: BaseException) -> str:
    """A loader error as the user should read it (``KeyError`` without the repr quotes)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def summarise(raw: RawData, source: str, kind: str, domain: str) -> DatasetSummary:
    if raw.diff3d is None:
        raise ValueError(f"{source}: the dataset has no diffraction patterns")
    energies = pattern_energies(raw.diff3d)
    return DatasetSummary(
        source=source,
        kind=kind,
        n_patterns=len(raw),
        N=int(raw.diff3d.shape[-1]),
        photons_mean=float(np.mean(energies)) if energies.size else 0.0,
        metadata_nphotons=metadata_nphotons(raw.metadata) if raw.metadata else None,
        diffraction_domain=domain,
        probe=np.asarray(raw.probeGuess),
        xcoords=np.asarray(raw.xcoords),
        ycoords=np.asarray(raw.ycoords),
        object_shape=None if raw.objectGuess is None else tuple(int(v) for v in raw.objectGuess.shape[:2]),
        has_patches=raw.Y is not None,
    )


def is_product_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in PRODUCT_SUFFIXES


def load_npz_dataset(path: str | os.PathLike[str], diffraction_domain: str = "amplitude") -> LoadedDataset:
    """Read a canonical NPZ (data §1) with the given domain; errors are the data contract's."""
    path = Path(path)
    raw = RawData.from_file(path, diffraction_domain=diffraction_domain)
    summary = summarise(raw, str(path), "npz", diffraction_domain)
    logger.info("opened %s: %d patterns, N = %d", path, summary.n_patterns, summary.N)
    return LoadedDataset(raw=raw, npz_path=path, summary=summary, source_paths=(path,),
                         diffraction_domain=diffraction_domain)


def load_product_dataset(product_path: str | os.PathLike[str], diffraction_path: Optional[str | os.PathLike[str]],
                         diffraction_domain: str, cache_dir: str | os.PathLike[str]) -> LoadedDataset:
    """Read a Ptychodus product plus its diffraction patterns (data §6) into a dataset.

    ``diffraction_path`` None uses the product's own ``/raw_data`` group (paired by order).
    The canonical NPZ for the worker is written (atomically) into ``cache_dir``.
    """
    from ptychopinn_plugin.io import load_diffraction, product_to_raw_data, read_product

    product_path = Path(product_path)
    product = read_product(product_path)
    if diffraction_path is None:
        if product.raw_data is None:
            raise ValueError(
                f"{product_path} has no /raw_data group; choose the diffraction file that goes with this product")
        patterns, metadata, bad_pixels, pairing = (product.raw_data.diffraction, product.raw_data.metadata, None,
                                                   "order")
        label = f"{product_path}:/raw_data/diffraction"
        sources: tuple[Path, ...] = (product_path,)
    else:
        given = load_diffraction(diffraction_path)
        patterns, metadata, bad_pixels, pairing = given.patterns, given.metadata, given.bad_pixels, "auto"
        label = given.source
        sources = (product_path, Path(diffraction_path))
    raw = product_to_raw_data(product, patterns, diffraction_domain=diffraction_domain, bad_pixels=bad_pixels,
                              metadata=metadata, pairing=pairing, source=f"{product_path} + {label}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{product_path.stem}-", suffix=".npz", dir=cache)
    os.close(fd)
    npz_path = Path(name)
    raw.to_file(npz_path)
    summary = summarise(raw, f"{product_path} + {label}", "product", diffraction_domain)
    logger.info("opened product %s with %s: %d patterns, N = %d (canonical copy %s)", product_path, label,
                summary.n_patterns, summary.N, npz_path)
    return LoadedDataset(raw=raw, npz_path=npz_path, summary=summary, source_paths=sources, product=product,
                         diffraction_domain=diffraction_domain)
