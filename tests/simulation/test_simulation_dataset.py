"""Simulated datasets: determinism, independence of train/test, dose, file schema."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ptychopinn_plugin.simulation import SimulationConfig, make_object, simulate_dataset, simulate_train_test

# Small and fast; the default config is exercised where the defaults themselves matter.
SMALL = SimulationConfig(N=64, object_size=120, n_positions=64, nphotons=1e6, seed=7)

EXPECTED_DTYPES = {
    "diffraction": np.float32,
    "xcoords": np.float64,
    "ycoords": np.float64,
    "xcoords_start": np.float64,
    "ycoords_start": np.float64,
    "probeGuess": np.complex64,
    "scan_index": np.int64,
    "objectGuess": np.complex64,
    "Y": np.complex64,
}


def _arrays(ds):
    return {key: getattr(ds, key) for key in EXPECTED_DTYPES}


def test_same_seed_gives_bitwise_identical_arrays():
    a = simulate_dataset(SMALL)
    b = simulate_dataset(SMALL)
    for key, value in _arrays(a).items():
        other = getattr(b, key)
        assert value.dtype == other.dtype
        assert value.tobytes() == other.tobytes(), key
    assert a.metadata == b.metadata


def test_different_seeds_give_different_objects_and_data():
    a = simulate_dataset(SMALL)
    b = simulate_dataset(replace(SMALL, seed=8))
    assert not np.allclose(a.objectGuess, b.objectGuess)
    assert not np.allclose(a.diffraction, b.diffraction)
    # Object differences are substantial, not a rounding-level change.
    assert np.mean(np.abs(a.objectGuess - b.objectGuess)) > 0.05


def test_train_and_test_files_image_different_objects(tmp_path):
    train_path, test_path = simulate_train_test(SMALL, tmp_path)
    assert train_path == tmp_path / "train_data.npz" and test_path == tmp_path / "test_data.npz"
    with np.load(train_path, allow_pickle=False) as tr, np.load(test_path, allow_pickle=False) as te:
        assert tr["objectGuess"].shape == te["objectGuess"].shape
        assert np.mean(np.abs(tr["objectGuess"] - te["objectGuess"])) > 0.05
        np.testing.assert_array_equal(tr["probeGuess"], te["probeGuess"])  # same instrument
        assert not np.array_equal(tr["diffraction"], te["diffraction"])
        meta_tr = json.loads(str(tr["_metadata"]))
        meta_te = json.loads(str(te["_metadata"]))
    assert meta_tr["creation_info"]["object_seed"] != meta_te["creation_info"]["object_seed"]
    # The recorded object seed regenerates the stored object exactly.
    np.testing.assert_array_equal(make_object(SMALL.object_size, meta_te["creation_info"]["object_seed"]),
                                  simulate_dataset(SMALL, stream=1).objectGuess)


def test_mean_counts_per_pattern_matches_nphotons_within_poisson_tolerance():
    cfg = replace(SMALL, nphotons=2e6)
    ds = simulate_dataset(cfg)
    counts = ds.diffraction.astype(np.float64) ** 2
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-3 * counts.max())  # stored = sqrt(integer counts)
    mean_total = counts.sum(axis=(1, 2)).mean()
    # By construction E[mean_m Σ counts] = nphotons; std of that mean = sqrt(nphotons / M).
    sigma = np.sqrt(cfg.nphotons / ds.n_positions)
    assert abs(mean_total - cfg.nphotons) < 5 * sigma


def test_diffraction_is_poisson_sample_of_far_field_of_probe_times_Y():
    """Recompute the noise-free intensities from the stored probe and Y (independent DFT
    code) and check the counts are Poisson around them: E[(c−λ)²/λ] = 1."""
    ds = simulate_dataset(SMALL)
    n = SMALL.N
    psi = ds.probeGuess.astype(np.complex128)[None] * ds.Y.astype(np.complex128)
    intensity = np.abs(np.fft.fftshift(np.fft.fft2(psi), axes=(1, 2))) ** 2 / n**2
    s_sim = ds.metadata["creation_info"]["dose_factor_s_sim"]
    np.testing.assert_allclose(s_sim**2 * intensity.sum(axis=(1, 2)).mean(), SMALL.nphotons, rtol=1e-9)
    lam = s_sim**2 * intensity
    counts = ds.diffraction.astype(np.float64) ** 2
    sel = lam > 20
    chi2 = np.mean((counts[sel] - lam[sel]) ** 2 / lam[sel])
    assert 0.95 < chi2 < 1.05
    assert abs(np.mean(counts[sel] - lam[sel]) / np.sqrt(np.mean(lam[sel]) / sel.sum())) < 5


def test_Y_equals_bilinear_patches_of_objectGuess_at_the_positions():
    ds = simulate_dataset(SMALL)
    obj = ds.objectGuess.astype(np.complex128)
    n = SMALL.N
    for m in (0, 17, ds.n_positions - 1):
        x, y = ds.xcoords[m], ds.ycoords[m]
        ref = np.zeros((n, n), dtype=np.complex128)
        for i in range(n):  # brute force: patch pixel (i, j) ↔ object (y + i − N/2, x + j − N/2)
            for j in range(n):
                r, c = y + i - n / 2, x + j - n / 2
                r0, c0 = int(np.floor(r)), int(np.floor(c))
                fr, fc = r - r0, c - c0
                ref[i, j] = ((1 - fr) * (1 - fc) * obj[r0, c0] + (1 - fr) * fc * obj[r0, c0 + 1]
                             + fr * (1 - fc) * obj[r0 + 1, c0] + fr * fc * obj[r0 + 1, c0 + 1])
        np.testing.assert_allclose(ds.Y[m], ref, atol=1e-5)


def test_npz_has_exact_keys_and_dtypes_and_loads_without_pickle(tmp_path):
    ds = simulate_dataset(SMALL)
    path = ds.to_npz(tmp_path / "sim.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == set(EXPECTED_DTYPES) | {"_metadata"}
        for key, dtype in EXPECTED_DTYPES.items():
            assert npz[key].dtype == dtype, key
            np.testing.assert_array_equal(npz[key], getattr(ds, key))
        meta_arr = npz["_metadata"]
        assert meta_arr.ndim == 0 and meta_arr.dtype.kind == "U"
        meta = json.loads(str(meta_arr))
        m, n = ds.n_positions, SMALL.N
        assert npz["diffraction"].shape == (m, n, n) and npz["Y"].shape == (m, n, n)
        assert npz["probeGuess"].shape == (n, n)
        assert npz["objectGuess"].shape == (SMALL.object_size, SMALL.object_size)
        for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index"):
            assert npz[key].shape == (m,)
        np.testing.assert_array_equal(npz["scan_index"], 0)
    assert meta["diffraction_domain"] == "amplitude"
    assert meta["nphotons"] == SMALL.nphotons
    assert meta["source"] == "ptychopinn-simulate"
    assert meta["creation_info"]["seed"] == SMALL.seed
    assert meta["creation_info"]["parameters"] == SMALL.to_dict()
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


def test_default_config_is_small_demo_with_strong_overlap():
    cfg = SimulationConfig()
    assert cfg.N == 64 and 200 <= cfg.n_positions <= 400 and 160 <= cfg.object_size <= 200
    assert cfg.nphotons >= 1e6
    ds = simulate_dataset(cfg)
    assert ds.n_positions == cfg.n_positions
    lo, hi = cfg.N / 2 + cfg.margin, cfg.object_size - cfg.N / 2 - cfg.margin
    for c in (ds.xcoords, ds.ycoords):
        assert c.min() >= lo and c.max() <= hi
    # Raster step (jitter-free rows): between N/8 and N/6 so neighbouring patterns overlap strongly.
    rows = np.sort(np.unique(np.round(ds.ycoords[:: int(np.ceil(np.sqrt(cfg.n_positions)))])))
    step = np.median(np.diff(rows))
    assert cfg.N / 8 - 0.5 <= step <= cfg.N / 6 + 0.5


def test_scan_step_mode_gives_exact_lattice_without_jitter():
    cfg = replace(SMALL, n_positions=None, scan_step=6.0, jitter=0.0)
    ds = simulate_dataset(cfg)
    xs, ys = np.unique(ds.xcoords), np.unique(ds.ycoords)
    np.testing.assert_allclose(np.diff(xs), 6.0)
    np.testing.assert_allclose(np.diff(ys), 6.0)
    assert ds.n_positions == xs.size * ys.size
    assert xs[0] == cfg.N / 2 + cfg.margin and xs[-1] <= cfg.object_size - cfg.N / 2 - cfg.margin


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"N": 32}, "N"),
        ({"object_size": 70}, "object_size"),
        ({"nphotons": 0.0}, "nphotons"),
        ({"n_positions": None}, "n_positions"),
        ({"scan_step": 4.0}, "scan_step"),
        ({"seed": -1}, "seed"),
        ({"jitter": -1.0}, "jitter"),
    ],
)
def test_invalid_config_raises_value_error_naming_the_field(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SimulationConfig(**kwargs)
