"""Fixtures for the workflow tests: tiny simulated datasets and a clean model session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test

TINY = SimulationConfig(N=64, object_size=128, n_positions=64, seed=0, nphotons=1e6)
"""64 positions on a 128-px object (scan range [36, 92]): a few seconds to train on."""


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory) -> Path:
    """``train_data.npz`` and ``test_data.npz`` (different objects) of :data:`TINY`."""
    out = tmp_path_factory.mktemp("tiny_data")
    simulate_train_test(TINY, out)
    return out


@pytest.fixture(autouse=True)
def _clean_session():
    """Each test starts without a current model (process-level state of the workflows)."""
    from ptychopinn_plugin.workflows.session import clear_current_model

    clear_current_model()
    yield
    clear_current_model()
