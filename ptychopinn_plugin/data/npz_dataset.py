"""Reading and writing the canonical NPZ dataset (data spec §1).

``load_dataset_arrays`` applies every rule of §1 (key resolution, axis layout,
diffraction domain, probe modes, metadata, validation table §1.7) and returns the
canonical in-memory arrays; ``save_dataset_arrays`` writes the §1.8 schema.  Both are
framework-free and never unpickle anything.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.data.npz_io import METADATA_KEY, NpzReader, metadata_to_array, write_npz
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

DIFFRACTION_KEY = "diffraction"
LEGACY_DIFFRACTION_KEY = "diff3d"
REQUIRED_KEYS = ("xcoords", "ycoords", "probeGuess")
KNOWN_KEYS = frozenset({
    DIFFRACTION_KEY, LEGACY_DIFFRACTION_KEY, "xcoords", "ycoords", "xcoords_start", "ycoords_start",
    "probeGuess", "objectGuess", "Y", "scan_index", METADATA_KEY,
})
"""Keys interpreted by the reader; everything else (``bad_pixels`` included) is carried
through untouched in ``extra_arrays`` so a rewrite preserves it (data §1.1)."""


@dataclass
class DatasetArrays:
    """Canonical contents of one dataset file (shapes/dtypes of data §2.1)."""

    diffraction: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    xcoords_start: np.ndarray
    ycoords_start: np.ndarray
    probeGuess: np.ndarray
    scan_index: np.ndarray
    objectGuess: np.ndarray | None = None
    Y: np.ndarray | None = None
    metadata: dict[str, Any] | None = None
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None
    diffraction_key: str = DIFFRACTION_KEY


def resolve_diffraction_key(reader: NpzReader) -> str:
    """``diffraction`` if present, else legacy ``diff3d`` (INFO), else ``KeyError`` (data §1.2)."""
    if DIFFRACTION_KEY in reader:
        if LEGACY_DIFFRACTION_KEY in reader:
            canonical, legacy = reader.shape(DIFFRACTION_KEY), reader.shape(LEGACY_DIFFRACTION_KEY)
            if canonical is not None and legacy is not None and canonical != legacy:
                logger.warning(
                    "%s: both 'diffraction' %s and legacy 'diff3d' %s are present with different "
                    "shapes; using 'diffraction'", reader.path, canonical, legacy,
                )
        return DIFFRACTION_KEY
    if LEGACY_DIFFRACTION_KEY in reader:
        logger.info("%s: using the legacy key 'diff3d' (canonical key 'diffraction' absent)", reader.path)
        return LEGACY_DIFFRACTION_KEY
    raise KeyError(
        f"dataset {reader.path} has neither 'diffraction' (canonical) nor 'diff3d' (legacy) "
        f"diffraction data; keys present: {sorted(reader.keys)}"
    )


@dataclass
class DatasetHeader:
    """What a dataset file says besides its diffraction patterns and optional arrays."""

    diffraction_key: str
    metadata: dict[str, Any] | None
    xcoords: np.ndarray
    ycoords: np.ndarray
    xcoords_start: np.ndarray
    ycoords_start: np.ndarray


def read_dataset_header(reader: NpzReader) -> DatasetHeader:
    """Diffraction key (data §1.2), required keys, metadata (§1.6) and canonical coordinates.

    Shared by :func:`load_dataset_arrays` and readers that must not load the diffraction
    member whole (the streaming memory-mapped builder), so both apply the same rules.
    """
    source = str(reader.path)
    diff_key = resolve_diffraction_key(reader)
    missing = [key for key in REQUIRED_KEYS if key not in reader]
    if missing:
        raise KeyError(f"dataset {source} is missing required key(s) {missing}; keys present: {sorted(reader.keys)}")
    metadata = reader.read_metadata()
    x, y, xs, ys = canonical_coords(
        reader.read("xcoords"), reader.read("ycoords"),
        reader.read("xcoords_start") if "xcoords_start" in reader else None,
        reader.read("ycoords_start") if "ycoords_start" in reader else None,
        source=source,
    )
    return DatasetHeader(diff_key, metadata, x, y, xs, ys)


def load_dataset_arrays(path: str | os.PathLike[str], *, diffraction_domain: str = "amplitude") -> DatasetArrays:
    """Read and validate a dataset NPZ (data spec §1); the basis of ``RawData.from_file``."""
    check_domain(diffraction_domain)
    with NpzReader(path) as reader:
        source = str(reader.path)
        header = read_dataset_header(reader)
        diff_key, metadata = header.diffraction_key, header.metadata
        x, y, xs, ys = header.xcoords, header.ycoords, header.xcoords_start, header.ycoords_start
        m = int(x.shape[0])
        patterns = resolve_diffraction_layout(reader.read(diff_key), m, source=source, key=diff_key)
        amplitude = to_amplitude(patterns, diffraction_domain, metadata=metadata, source=source, key=diff_key)
        del patterns
        n = int(amplitude.shape[1])
        probe = canonical_probe(reader.read("probeGuess"), n, source=source)
        scan_index = canonical_scan_index(reader.read("scan_index") if "scan_index" in reader else None,
                                          m, source=source)
        obj = canonical_object(reader.read("objectGuess") if "objectGuess" in reader else None, source=source)
        y_patches = canonical_Y(reader.read("Y") if "Y" in reader else None, m, n, source=source)
        extras = _read_extras(reader)
    return DatasetArrays(
        diffraction=amplitude, xcoords=x, ycoords=y, xcoords_start=xs, ycoords_start=ys,
        probeGuess=probe, scan_index=scan_index, objectGuess=obj, Y=y_patches, metadata=metadata,
        extra_arrays=extras, path=reader.path, diffraction_key=diff_key,
    )


def _read_extras(reader: NpzReader) -> dict[str, np.ndarray]:
    """Unknown keys are ignored by the pipeline but kept for rewriting (data §1.1)."""
    extras: dict[str, np.ndarray] = {}
    for key in reader.keys:
        if key in KNOWN_KEYS:
            continue
        try:
            extras[key] = reader.read(key)
        except ValueError as exc:
            if "refusing to unpickle" not in str(exc):
                raise
            logger.warning("%s: unknown key %r is an object (pickled) array; skipped without "
                           "unpickling and not preserved", reader.path, key)
    return extras


def save_dataset_arrays(
    path: str | os.PathLike[str],
    *,
    diffraction: np.ndarray,
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    xcoords_start: np.ndarray,
    ycoords_start: np.ndarray,
    probeGuess: np.ndarray,
    scan_index: np.ndarray,
    objectGuess: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    metadata: Mapping[str, Any] | None = None,
    extra_arrays: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write the §1.8 schema atomically with uncompressed ``np.savez`` (streamable members)."""
    arrays: dict[str, np.ndarray] = {}
    for key, value in (extra_arrays or {}).items():
        if key in KNOWN_KEYS:
            continue
        arrays[key] = np.asarray(value)
    arrays.update({
        DIFFRACTION_KEY: np.asarray(diffraction, dtype=np.float32),
        "xcoords": np.asarray(xcoords, dtype=np.float64),
        "ycoords": np.asarray(ycoords, dtype=np.float64),
        "xcoords_start": np.asarray(xcoords_start, dtype=np.float64),
        "ycoords_start": np.asarray(ycoords_start, dtype=np.float64),
        "probeGuess": np.asarray(probeGuess, dtype=np.complex64),
        "scan_index": np.asarray(scan_index, dtype=np.int64),
    })
    if objectGuess is not None:
        arrays["objectGuess"] = np.asarray(objectGuess, dtype=np.complex64)
    if Y is not None:
        arrays["Y"] = np.asarray(Y, dtype=np.complex64)
    meta = dict(metadata or {})
    meta["diffraction_domain"] = "amplitude"
    arrays[METADATA_KEY] = metadata_to_array(meta)
    write_npz(path, arrays)
    logger.info("wrote dataset %s (%d patterns)", path, arrays[DIFFRACTION_KEY].shape[0])
