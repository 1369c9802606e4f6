"""Data of the PtychoPINN authors' SIM-LINES benchmark, rebuilt from its published settings.

Facts (the authors' metrics/workflow settings, quoted in issue #11): N = 64; 392 px
'lines' objects (amplitude only, flat phase); 'grid' simulation; training groups on a
regular grid every 8 px with the 4 members of a group 4 px apart (so the training scan is
an exact 4 px lattice), test groups every 20 px; no jitter; 1e9 photons; 2 training and 2
test images; gridsize 1 trained with the amplitude MAE only, gridsize 2 with the Poisson
NLL only; batch 16; 60 epochs; scored after stitching with crop M = 20.

Choices where the settings are silent (docs/benchmarks.md, "Paper lines benchmark"):

* The held-out images are *different objects* (simulator streams 100, 101), not the
  bottom half of the training images: a stricter test of generalisation.
* gridsize 2 training groups are drawn by our grouping (data §2.2, K = 4) from the 4 px
  lattice, one group per position by default; a group is then the seed and 3 of its
  4 nearest lattice neighbours (an L/T shape 4 px apart) rather than always a 2×2 square.
* Test groups are exact 2×2 squares (members at ±2 px) around centres every 20 px
  (gridsize 1: single positions every 20 px); a group's ``trimmed_obj`` is centred on the
  group centre, so the M = 20 stitch tiles the test area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.simulation import SimulationConfig
from ptychopinn_plugin.simulation.dataset import simulated_object, simulated_probe
from ptychopinn_plugin.simulation.forward import far_field_amplitude
from ptychopinn_plugin.util.bilinear import extract_patches

OBJECT_SIZE = 392
TRAIN_STEP = 4.0
TEST_GROUP_STEP = 20.0
MEMBER_SPACING = 4.0
NPHOTONS = 1e9
TEST_STREAMS = (100, 101)


@dataclass
class LinesData:
    train: PtychoDataContainer
    tests: list[tuple[PtychoDataContainer, np.ndarray]]
    train_objects: list[np.ndarray]
    probe: np.ndarray
    n_train_patterns: int


def sim_config(probe: str, *, object_kind: str = "lines") -> SimulationConfig:
    return SimulationConfig(
        N=64, object_size=OBJECT_SIZE, n_positions=None, scan_step=TRAIN_STEP, jitter=0.0, scan="grid",
        object_kind=object_kind, probe_kind=probe, nphotons=NPHOTONS,
    )


def _object_seed(cfg: SimulationConfig, stream: int) -> int:
    seq_object = np.random.SeedSequence(cfg.seed, spawn_key=(stream,)).spawn(3)[0]
    return int(seq_object.generate_state(1, dtype=np.uint64)[0])


def simulate_raw(obj: np.ndarray, probe: np.ndarray, x: np.ndarray, y: np.ndarray, seed: int) -> RawData:
    """Poisson-sampled diffraction (physics §13) of ``obj`` at positions ``(x, y)``."""
    patches = extract_patches(obj, x, y, probe.shape[0])
    psi = probe.astype(np.complex128)[None] * patches.astype(np.complex128)
    amplitude = far_field_amplitude(psi)
    s_sim = np.sqrt(NPHOTONS / np.mean(np.sum(np.abs(psi) ** 2, axis=(1, 2))))
    counts = np.random.default_rng(seed).poisson((s_sim * amplitude) ** 2)
    diffraction = np.sqrt(counts).astype(np.float32)
    return RawData(x, y, x.copy(), y.copy(), diffraction, probe, np.zeros(x.shape, np.int64),
                   objectGuess=obj, Y=patches.astype(np.complex64), metadata={"nphotons": NPHOTONS,
                                                                              "diffraction_domain": "amplitude"},
                   source="bench lines")


def lattice(step: float, low: float, high: float) -> np.ndarray:
    count = int(np.floor((high - low) / step + 1e-9)) + 1
    return low + step * np.arange(count)


def build(probe_kind: str, gridsize: int, *, n_train_objects: int = 2, groups_per_object: int | None = None,
          train_step: float = TRAIN_STEP, seed: int = 0, object_kind: str = "lines",
          test_step: float = TEST_GROUP_STEP) -> LinesData:
    """Training container (all training objects) and one test container per held-out object."""
    cfg = sim_config(probe_kind, object_kind=object_kind)
    probe = simulated_probe(cfg)
    low, high = cfg.scan_low, cfg.scan_high
    containers, objects, n_patterns = [], [], 0
    for stream in range(n_train_objects):
        obj = simulated_object(cfg, _object_seed(cfg, stream))
        if gridsize == 1:
            step = 2 * train_step  # gridsize 1: the 8 px group grid itself
        else:
            step = train_step
        ax = lattice(step, low, high)
        gy, gx = np.meshgrid(ax, ax, indexing="ij")
        raw = simulate_raw(obj, probe, gx.ravel(), gy.ravel(), seed=1000 + stream)
        n_patterns += gx.size
        grouped = raw.generate_grouped_data(64, K=4, nsamples=groups_per_object, seed=seed + stream,
                                            gridsize=gridsize)
        containers.append(PtychoDataContainer.from_grouped(grouped, probe, NPHOTONS))
        objects.append(obj)
    train = concat(containers)
    tests = build_tests(cfg, probe, gridsize, test_step)
    return LinesData(train, tests, objects, probe, n_patterns)


def build_tests(cfg: SimulationConfig, probe: np.ndarray, gridsize: int,
                test_step: float = TEST_GROUP_STEP) -> list[tuple[PtychoDataContainer, np.ndarray]]:
    """One container per held-out object: groups every ``test_step`` px (paper: 20)."""
    low, high = cfg.scan_low, cfg.scan_high
    tests = []
    for stream in TEST_STREAMS:
        obj = simulated_object(cfg, _object_seed(cfg, stream))
        half = MEMBER_SPACING / 2 if gridsize == 2 else 0.0
        ax = lattice(test_step, low + half, high - half)
        gy, gx = np.meshgrid(ax, ax, indexing="ij")
        if gridsize == 2:
            offsets = np.array([(-half, -half), (-half, half), (half, -half), (half, half)])
            x = (gx.ravel()[:, None] + offsets[None, :, 1]).ravel()
            y = (gy.ravel()[:, None] + offsets[None, :, 0]).ravel()
        else:
            x, y = gx.ravel(), gy.ravel()
        raw = simulate_raw(obj, probe, x, y, seed=2000 + stream)
        grouped = raw.generate_grouped_data(64, K=4, nsamples=None, seed=0, gridsize=gridsize)
        tests.append((PtychoDataContainer.from_grouped(grouped, probe, NPHOTONS), obj))
    return tests


def concat(containers: list[PtychoDataContainer]) -> PtychoDataContainer:
    """One container holding the groups of several (each normalised on its own, data §2.5)."""
    if len(containers) == 1:
        return containers[0]
    first = containers[0]
    cat = lambda name: np.concatenate([getattr(c, name) for c in containers])  # noqa: E731
    return PtychoDataContainer(
        cat("X"), cat("Y") if first.Y is not None else None, cat("coords_nominal"), cat("coords_true"),
        first.probe, cat("nn_indices"), cat("global_offsets"), cat("local_offsets"), first.nphotons,
    )
