"""Fixtures for the torch-backend tests: small simulated datasets grouped into containers."""

from __future__ import annotations

import functools
from typing import Callable

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")
pytest.importorskip("tensordict")

import torch  # noqa: E402

from ptychopinn_plugin.data.container import PtychoDataContainer  # noqa: E402
from ptychopinn_plugin.data.raw_data import RawData  # noqa: E402
from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset  # noqa: E402


@functools.lru_cache(maxsize=4)
def _raw(n_positions: int, seed: int) -> RawData:
    sim = simulate_dataset(SimulationConfig(N=64, object_size=160, n_positions=n_positions, nphotons=1e6, seed=seed))
    return RawData(
        sim.xcoords, sim.ycoords, sim.xcoords_start, sim.ycoords_start, sim.diffraction, sim.probeGuess,
        sim.scan_index, objectGuess=sim.objectGuess, Y=sim.Y,
    )


def make_container(gridsize: int = 1, n_groups: int = 40, n_positions: int = 48, seed: int = 0,
                   nphotons: float = 1e6, with_truth: bool = True) -> PtychoDataContainer:
    raw = _raw(n_positions, seed)
    grouped = raw.generate_grouped_data(64, K=4, nsamples=n_groups, seed=seed, gridsize=gridsize)
    if not with_truth:
        grouped = dict(grouped, Y=None)
    return PtychoDataContainer.from_grouped(grouped, raw.probeGuess, nphotons)


@pytest.fixture
def container_factory() -> Callable[..., PtychoDataContainer]:
    """Factory: a grouped N=64 container from a small simulated scan."""
    return make_container


@pytest.fixture(autouse=True)
def _few_threads():
    """Tests share 2 cores with other jobs: keep torch from oversubscribing."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, 2))
    yield
    torch.set_num_threads(before)
