"""Which files in a training directory are datasets, how each is read, and how scans
become grouped containers, for the ``ptycho_torch`` loader (§4T.4.4, §4T.6.2).

NumPy and ``ptychopinn_plugin.data`` only (no framework).
"""

from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.npz_dataset import resolve_diffraction_key
from ptychopinn_plugin.data.npz_io import NpzReader, metadata_nphotons
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.data.validation import decide_domain

logger = logging.getLogger(__name__)

TRAIN_FILE = "train_data.npz"
TEST_FILE = "test_data.npz"
REQUIRED_MEMBERS = ("xcoords.npy", "ycoords.npy", "probeGuess.npy")
DIFFRACTION_MEMBERS = ("diffraction.npy", "diff3d.npy")
DEFAULT_NPHOTONS = 1e9


@dataclass
class TrainingFiles:
    """The training files found in a directory and the optional validation file."""

    train: list[Path]
    validation: Optional[Path]


def is_dataset(path: Path) -> bool:
    """True when the NPZ's member list has the dataset keys (no array is loaded)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return all(m in names for m in REQUIRED_MEMBERS) and any(m in names for m in DIFFRACTION_MEMBERS)


def find_training_files(data_dir: Path) -> TrainingFiles:
    """§4T.4.4 steps 1-5: ``train_data.npz`` (+ ``test_data.npz``) when present, else every
    dataset ``*.npz`` directly in ``data_dir`` (sorted; ``run_*`` directories never searched)."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"training data directory not found: {data_dir}")
    candidates = sorted(p for p in data_dir.glob("*.npz") if p.is_file())
    datasets = []
    for path in candidates:
        if is_dataset(path):
            datasets.append(path)
        else:
            logger.info("%s is not a training dataset (no xcoords/ycoords/probeGuess/diffraction members); skipped",
                        path)
    if not datasets:
        found = ", ".join(p.name for p in sorted(data_dir.iterdir())) or "nothing"
        raise FileNotFoundError(
            f"no training data in {data_dir}: expected .npz files written by 'Export Training Data…' (keys xcoords, "
            f"ycoords, probeGuess, diffraction|diff3d); found: {found}")
    train_file = data_dir / TRAIN_FILE
    if train_file in datasets:
        test_file = data_dir / TEST_FILE
        return TrainingFiles([train_file], test_file if test_file in datasets else None)
    return TrainingFiles(datasets, None)


def diffraction_domain_of(path: Path) -> str:
    """§4T.4.4 step 6 (D9), resolved to 'amplitude' or 'intensity' from the member headers:
    the recorded ``_metadata`` domain; a ``diffraction`` key → amplitude; a Ptychodus 1.7
    export (``diff3d`` + ``bad_pixels``, no ``_metadata``) → intensity; else data §1.4
    ``'auto'`` (integer counts → intensity)."""
    with NpzReader(path) as reader:
        metadata = reader.read_metadata()
        key = resolve_diffraction_key(reader)
        dtype = reader.infos[key].dtype if key in reader.infos else np.dtype(np.float32)
        names = set(reader.keys)
    if metadata and metadata.get("diffraction_domain") is not None:
        return decide_domain(dtype, "auto", metadata, source=str(path))
    if key == "diffraction":
        return "amplitude"
    if "bad_pixels" in names and "_metadata" not in names:
        return "intensity"
    return decide_domain(dtype, "auto", None, source=str(path))


def read_training_file(path: Path, N: int) -> tuple[RawData, str]:
    """The file as ``RawData`` plus the domain it was read in; the pattern side must be ``N``."""
    domain = diffraction_domain_of(path)
    raw = RawData.from_file(path, diffraction_domain=domain)
    h, w = raw.diff3d.shape[1:3]
    if (h, w) != (N, N):
        raise ValueError(f"training patterns in {path} are {h}×{w} but 'Model Size' is {N}; set 'Model Size' to {h}")
    return raw, domain


def nphotons_of(raw: RawData, domain: str, path: Path) -> float:
    """D2: the recorded ``_metadata.nphotons``; for intensity data the mean total counts per
    pattern; else the default 1e9 with a WARNING."""
    recorded = metadata_nphotons(raw.metadata)
    if recorded is not None and math.isfinite(recorded) and recorded > 0:
        return float(recorded)
    if domain == "intensity":
        counts = float(np.mean(np.sum(np.square(raw.diff3d, dtype=np.float64), axis=(1, 2))))
        if math.isfinite(counts) and counts > 0:
            logger.info("nphotons = %.6g: the mean total counts per pattern of %s", counts, path)
            return counts
    logger.warning("%s records no photon count and its patterns are not counts; assuming nphotons = %.0e",
                   path, DEFAULT_NPHOTONS)
    return DEFAULT_NPHOTONS


def has_usable_ground_truth(raw: RawData) -> bool:
    """``Y`` patches, or an ``objectGuess`` that is not constant (D10)."""
    if raw.Y is not None:
        return True
    obj = raw.objectGuess
    return obj is not None and obj.size > 0 and not np.allclose(obj, obj.flat[0])


def grouped_container(raw: RawData, N: int, gridsize: int, K: int, nphotons: float, *, seed: int,
                      sequential: bool = False) -> PtychoDataContainer:
    """One group per scan position (D3), grouped with K nearest neighbours (data §2.2)."""
    grouped = raw.generate_grouped_data(N, K=max(K, gridsize * gridsize), nsamples=None, seed=seed,
                                        sequential_sampling=sequential, gridsize=gridsize)
    return PtychoDataContainer.from_grouped(grouped, raw.probeGuess, nphotons)


def arrays_from_ptychodus(diff_patterns: Any, probe: Any, positions: Any, N: int, channels: int) -> RawData:
    """``from_np``'s inputs (§4T.6.2) as ``RawData``: intensity counts → amplitude in float64
    (the given arrays are never written), ``positions`` ``(M, 2)`` as (y, x) → our x/y."""
    patterns = np.asarray(diff_patterns)
    if patterns.ndim != 3 or patterns.shape[1:] != (N, N):
        shape = "×".join(map(str, patterns.shape[1:])) if patterns.ndim == 3 else str(patterns.shape)
        raise ValueError(f"the model was trained on {N}×{N} patterns but Ptychodus passes {shape}; crop the detector "
                         f"to {N} or train a new model")
    m = int(patterns.shape[0])
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape != (m, 2) or not np.all(np.isfinite(pos)):
        raise ValueError(f"positions must be ({m}, 2) finite (y, x) pixels, one row per pattern; got shape {pos.shape}")
    p = np.asarray(probe)
    if p.ndim not in (2, 3) or p.shape[-2:] != (N, N):
        raise ValueError(f"the probe must be (N, N) or (modes, N, N) with N = {N}; got shape {p.shape}")
    if m < channels:
        raise ValueError(f"{m} scan positions are fewer than the {channels} patterns of one group")
    amplitude = np.sqrt(np.maximum(patterns.astype(np.float64), 0.0)).astype(np.float32)
    x = pos[:, 1].copy()
    y = pos[:, 0].copy()
    return RawData(x, y, x, y, amplitude, p, np.zeros(m, dtype=np.int64), diffraction_domain="amplitude",
                   source="Ptychodus diffraction data")
