"""Synthetic ptychography datasets (physics spec §13): test fixtures and demos.

NumPy only (no deep-learning framework), deterministic by seed.  Public entry points:

* :class:`SimulationConfig` — validated parameters;
* :func:`simulate_dataset` → :class:`SimulatedDataset` (arrays + ``to_npz``);
* :func:`simulate_train_test` — ``train_data.npz`` / ``test_data.npz`` from two
  different objects;
* building blocks :func:`make_object`, :func:`make_probe`, :func:`raster_positions`,
  :func:`far_field_amplitude`.
"""

from ptychopinn_plugin.simulation.config import SimulationConfig
from ptychopinn_plugin.simulation.dataset import (
    SimulatedDataset,
    simulate_dataset,
    simulate_train_test,
)
from ptychopinn_plugin.simulation.forward import far_field_amplitude
from ptychopinn_plugin.simulation.objects import make_object
from ptychopinn_plugin.simulation.probe import make_probe, normalise_probe, probe_mask
from ptychopinn_plugin.simulation.scan import raster_positions

__all__ = [
    "SimulationConfig",
    "SimulatedDataset",
    "simulate_dataset",
    "simulate_train_test",
    "far_field_amplitude",
    "make_object",
    "make_probe",
    "normalise_probe",
    "probe_mask",
    "raster_positions",
]
