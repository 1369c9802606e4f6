"""Fixtures of the Ptychodus integration tests: real Ptychodus objects built from simulated scans.

``ReconstructInput`` is built with Ptychodus's own classes the way its processing API
does: raw detector **counts** (integer dtype) as the patterns, a ``bad_pixels`` mask
whose pixels hold garbage, positions in metres through an object geometry whose centre is
not at the origin, and a two-mode probe (the dominant mode is the simulated probe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ptychodus")

from ptychodus.api.geometry import PixelGeometry  # noqa: E402
from ptychodus.api.object import Object, ObjectCenter  # noqa: E402
from ptychodus.api.probe import ProbeSequence  # noqa: E402
from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence  # noqa: E402
from ptychodus.api.product import Product, ProductMetadata  # noqa: E402
from ptychodus.api.reconstruct import ReconstructInput  # noqa: E402

from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset  # noqa: E402

PIXEL_M = 20e-9
CENTER_M = (3.0e-6, -1.5e-6)
BAD_PIXELS = ((5, 7), (40, 12), (33, 50), (60, 3))
"""Detector pixels marked bad (away from the direct beam); their counts are corrupted."""
WEAK_MODE_FRACTION = 0.2

SMALL = SimulationConfig(N=64, object_size=128, n_positions=64, seed=3, nphotons=1e6)
"""64 positions on a 128-px object: the size of our own library's tests."""


@dataclass
class SimulatedInput:
    """A simulated scan as Ptychodus would hand it over, plus the ground truth."""

    reconstruct_input: ReconstructInput
    counts: np.ndarray
    """Uncorrupted integer counts (M, N, N)."""
    sim: object
    """The :class:`~ptychopinn_plugin.simulation.SimulatedDataset`."""


def ptychodus_input(sim, *, name: str = "sim", corrupt_bad_pixels: bool = True) -> SimulatedInput:
    counts = np.rint(sim.diffraction.astype(np.float64) ** 2).astype(np.int32)
    n = counts.shape[-1]
    mask = np.zeros((n, n), dtype=bool)
    for row, col in BAD_PIXELS:
        mask[row, col] = True
    patterns = counts.copy()
    if corrupt_bad_pixels:
        patterns[:, mask] = 60000  # hot pixels: garbage the inpainting must replace
    height, width = sim.objectGuess.shape
    x_m = CENTER_M[0] + PIXEL_M * (sim.xcoords - (width - 1) / 2)
    y_m = CENTER_M[1] + PIXEL_M * (sim.ycoords - (height - 1) / 2)
    positions = ProbePositionSequence([ProbePosition(index=i, x_m=float(x), y_m=float(y))
                                       for i, (x, y) in enumerate(zip(x_m, y_m))])
    weak = WEAK_MODE_FRACTION * np.roll(sim.probeGuess, 3, axis=1)
    probes = ProbeSequence(array=np.stack([sim.probeGuess, weak]).astype(np.complex64), opr_weights=None,
                           pixel_geometry=PixelGeometry(width_m=PIXEL_M, height_m=PIXEL_M))
    obj = Object(array=sim.objectGuess.astype(np.complex64), pixel_geometry=PixelGeometry(PIXEL_M, PIXEL_M),
                 center=ObjectCenter(*CENTER_M))
    metadata = ProductMetadata(name=name, comments="simulated", detector_distance_m=2.0, photon_energy_eV=8000.0,
                               probe_photon_count=1e6, exposure_time_s=0.1, mass_attenuation_m2_per_kg=0.0,
                               tomography_angle_deg=0.0)
    product = Product(metadata=metadata, probe_positions=positions, probes=probes, object_=obj, losses=[])
    return SimulatedInput(ReconstructInput(patterns, mask, product), counts, sim)


@pytest.fixture(scope="session")
def small_inputs() -> dict[str, SimulatedInput]:
    """'train' (stream 0) and 'test' (stream 1, another object) of :data:`SMALL`."""
    return {"train": ptychodus_input(simulate_dataset(SMALL, stream=0), name="train"),
            "test": ptychodus_input(simulate_dataset(SMALL, stream=1), name="test")}


def make_training_dir(reconstructor, inputs: dict[str, SimulatedInput], directory: Path) -> Path:
    """``train_data.npz`` + ``test_data.npz`` written by ``reconstructor.export_training_data``."""
    directory.mkdir(parents=True, exist_ok=True)
    reconstructor.export_training_data(directory / "train_data.npz", inputs["train"].reconstruct_input)
    reconstructor.export_training_data(directory / "test_data.npz", inputs["test"].reconstruct_input)
    return directory


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The module's constants and builders (test modules cannot import a conftest by name)."""
    return SimpleNamespace(PIXEL_M=PIXEL_M, CENTER_M=CENTER_M, BAD_PIXELS=BAD_PIXELS,
                           WEAK_MODE_FRACTION=WEAK_MODE_FRACTION, SMALL=SMALL, ptychodus_input=ptychodus_input,
                           make_training_dir=make_training_dir)


@pytest.fixture(autouse=True)
def _clean_session():
    """The workflow layer's process-level current model must not leak between tests."""
    from ptychopinn_plugin.workflows.session import clear_current_model

    clear_current_model()
    yield
    clear_current_model()
