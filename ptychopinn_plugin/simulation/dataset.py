"""Simulate complete datasets and write them in the canonical NPZ schema (data spec §1).

Randomness: one ``numpy.random.SeedSequence(seed, spawn_key=(stream,))`` per dataset,
split into independent streams for the object, the scan jitter and the Poisson noise.
The same ``(seed, stream)`` therefore reproduces every array bit for bit, and changing
e.g. the number of positions does not change the object.  ``simulate_train_test``
uses stream 0 for training and stream 1 for testing, so the two sets come from
*different* objects (a test on the training object would only measure memorisation).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptychopinn_plugin._version import __version__
from ptychopinn_plugin.simulation.config import SimulationConfig
from ptychopinn_plugin.simulation.forward import far_field_amplitude
from ptychopinn_plugin.physics.probe import default_probe
from ptychopinn_plugin.simulation.lines import make_lines_object
from ptychopinn_plugin.simulation.objects import make_object
from ptychopinn_plugin.simulation.probe import make_probe, normalise_probe
from ptychopinn_plugin.simulation.scan import raster_positions
from ptychopinn_plugin.util.atomic import atomic_savez
from ptychopinn_plugin.util.bilinear import extract_patches

logger = logging.getLogger(__name__)

TRAIN_FILE = "train_data.npz"
TEST_FILE = "test_data.npz"
METADATA_SCHEMA_VERSION = "1"
SOURCE = "ptychopinn-simulate"

# Keys and dtypes written (data spec §1.8 plus objectGuess/Y, which the simulator always has).
NPZ_DTYPES: dict[str, np.dtype] = {
    "diffraction": np.dtype(np.float32),
    "xcoords": np.dtype(np.float64),
    "ycoords": np.dtype(np.float64),
    "xcoords_start": np.dtype(np.float64),
    "ycoords_start": np.dtype(np.float64),
    "probeGuess": np.dtype(np.complex64),
    "scan_index": np.dtype(np.int64),
    "objectGuess": np.dtype(np.complex64),
    "Y": np.dtype(np.complex64),
}


@dataclass
class SimulatedDataset:
    """One simulated dataset; array names and dtypes are those of the NPZ (data spec §1.1).

    ``diffraction`` holds ``sqrt(counts)`` (photon-count amplitude, not divided by the
    dose factor) so that ``mean Σ diffraction²`` is the measured photons per pattern;
    the pipeline renormalises the scale anyway (data spec §1.4).
    ``xcoords_start``/``ycoords_start`` equal ``xcoords``/``ycoords``: the jitter is part
    of the known scan, not a position error.
    """

    diffraction: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    xcoords_start: np.ndarray
    ycoords_start: np.ndarray
    probeGuess: np.ndarray
    scan_index: np.ndarray
    objectGuess: np.ndarray
    Y: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_positions(self) -> int:
        return int(self.xcoords.shape[0])

    def npz_arrays(self) -> dict[str, np.ndarray]:
        """The exact arrays written to the NPZ, ``_metadata`` as a 0-d unicode array."""
        arrays = {key: np.ascontiguousarray(getattr(self, key), dtype=dtype) for key, dtype in NPZ_DTYPES.items()}
        arrays["_metadata"] = np.array(json.dumps(self.metadata, sort_keys=True))
        assert arrays["_metadata"].dtype.kind == "U" and arrays["_metadata"].ndim == 0
        return arrays

    def to_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write the dataset atomically (uncompressed ``np.savez``; loads with ``allow_pickle=False``)."""
        path = Path(path)
        atomic_savez(path, **self.npz_arrays())
        logger.info("wrote simulated dataset %s (%d patterns, N = %d)", path, self.n_positions, self.probeGuess.shape[0])
        return path


PROBE_DESCRIPTIONS = {
    "defocused": "defocused circular pupil, physics §6.1-normalised",
    "disk": "blurred disk of physics §6.3, physics §6.1-normalised",
}


def simulated_object(cfg: SimulationConfig, object_seed: int) -> np.ndarray:
    """The object of kind ``cfg.object_kind`` (complex64, ``object_size`` square)."""
    if cfg.object_kind == "lines":
        return make_lines_object(cfg.object_size, object_seed)
    return make_object(cfg.object_size, object_seed)


def simulated_probe(cfg: SimulationConfig) -> np.ndarray:
    """The §6.1-normalised probe of kind ``cfg.probe_kind`` (complex64 ``(N, N)``)."""
    if cfg.probe_kind == "disk":
        return normalise_probe(default_probe(cfg.N).astype(np.complex64), cfg.probe_scale)
    return make_probe(
        cfg.N,
        pupil_fraction=cfg.probe_pupil_fraction,
        radius_fraction=cfg.probe_radius_fraction,
        probe_scale=cfg.probe_scale,
    )


def simulate_dataset(cfg: SimulationConfig, *, stream: int = 0) -> SimulatedDataset:
    """Simulate one dataset (physics §13) from ``cfg``; ``stream`` selects an independent
    random stream (different object, scan jitter and noise) for the same ``cfg.seed``."""
    if not isinstance(cfg, SimulationConfig):
        raise TypeError(f"cfg must be a SimulationConfig; got {type(cfg).__name__}")
    if isinstance(stream, bool) or not isinstance(stream, int) or stream < 0:
        raise ValueError(f"stream = {stream!r} is invalid; allowed: an integer >= 0")
    seq_object, seq_scan, seq_noise = np.random.SeedSequence(cfg.seed, spawn_key=(stream,)).spawn(3)
    object_seed = int(seq_object.generate_state(1, dtype=np.uint64)[0])

    obj = simulated_object(cfg, object_seed)
    probe = simulated_probe(cfg)
    x, y = raster_positions(
        cfg.object_size,
        cfg.N,
        np.random.default_rng(seq_scan),
        n_positions=cfg.n_positions,
        scan_step=cfg.scan_step,
        margin=cfg.margin,
        jitter=cfg.jitter,
    )
    patches = extract_patches(obj, x, y, cfg.N)  # (M, N, N) complex64, bare object
    psi = probe.astype(np.complex128)[None] * patches.astype(np.complex128)
    amplitude = far_field_amplitude(psi)
    mean_energy = float(np.mean(np.sum(np.abs(psi) ** 2, axis=(1, 2))))
    if not mean_energy > 0:
        raise ValueError("simulated exit waves carry no energy (probe or object is zero)")
    s_sim = float(np.sqrt(cfg.nphotons / mean_energy))
    counts = np.random.default_rng(seq_noise).poisson((s_sim * amplitude) ** 2)
    diffraction = np.sqrt(counts.astype(np.float64)).astype(np.float32)
    measured = float(np.mean(counts.sum(axis=(1, 2), dtype=np.float64)))
    logger.info(
        "simulated %d patterns (N = %d, object %d px, seed %d, stream %d): mean %.4g photons/pattern",
        x.size, cfg.N, cfg.object_size, cfg.seed, stream, measured,
    )
    metadata = {
        "schema_version": METADATA_SCHEMA_VERSION,
        "diffraction_domain": "amplitude",
        "nphotons": float(cfg.nphotons),
        "source": SOURCE,
        "creation_info": {
            "tool": "ptychopinn_plugin.simulation",
            "version": __version__,
            "seed": cfg.seed,
            "stream": stream,
            "object_seed": object_seed,
            "parameters": cfg.to_dict(),
            "dose_factor_s_sim": s_sim,
            "measured_mean_counts_per_pattern": measured,
            "probe": PROBE_DESCRIPTIONS[cfg.probe_kind],
            "stored_amplitude": "sqrt(counts), not divided by s_sim",
        },
    }
    return SimulatedDataset(
        diffraction=diffraction,
        xcoords=x,
        ycoords=y,
        xcoords_start=x.copy(),
        ycoords_start=y.copy(),
        probeGuess=probe,
        scan_index=np.zeros(x.shape, dtype=np.int64),
        objectGuess=obj,
        Y=patches.astype(np.complex64, copy=False),
        metadata=metadata,
    )


def simulate_train_test(cfg: SimulationConfig, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``out_dir/train_data.npz`` (stream 0) and ``out_dir/test_data.npz`` (stream 1).

    The two files share the probe and scan geometry but image different objects.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path = simulate_dataset(cfg, stream=0).to_npz(out_dir / TRAIN_FILE)
    test_path = simulate_dataset(cfg, stream=1).to_npz(out_dir / TEST_FILE)
    return train_path, test_path
