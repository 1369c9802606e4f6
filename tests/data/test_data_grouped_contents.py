"""Contents of the grouped dictionary: coordinates (§2.3), normalisation (§2.5),
ground-truth patches (§2.6), checked against independent references."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.data import (
    RawData,
    extract_ground_truth,
    factor_from_energies,
    normalisation_factor,
    pattern_energies,
    subsample_raw_data,
)


def _raw(base_arrays, write_dataset, **kwargs) -> RawData:
    return RawData.from_file(write_dataset(base_arrays(**kwargs)))


def _bilinear_patch_reference(obj: np.ndarray, x: float, y: float, n: int) -> np.ndarray:
    """Per-pixel bilinear sampling with zero outside; patch pixel (n/2, n/2) on (x, y)."""
    h, w = obj.shape
    out = np.zeros((n, n), dtype=np.complex128)
    for i in range(n):
        for j in range(n):
            r = y + i - n // 2
            c = x + j - n // 2
            r0, c0 = int(np.floor(r)), int(np.floor(c))
            tr, tc = r - r0, c - c0
            value = 0j
            for rr, wr in ((r0, 1 - tr), (r0 + 1, tr)):
                for cc, wc in ((c0, 1 - tc), (c0 + 1, tc)):
                    if 0 <= rr < h and 0 <= cc < w:
                        value += wr * wc * complex(obj[rr, cc])
            out[i, j] = value
    return out


def test_coordinates_follow_the_sign_convention(base_arrays, write_dataset):
    arrays = base_arrays(m=20)
    arrays["xcoords_start"] = arrays["xcoords"] + 0.5
    arrays["ycoords_start"] = arrays["ycoords"] - 1.25
    raw = RawData.from_file(write_dataset(arrays))
    g = raw.generate_grouped_data(16, K=6, nsamples=15, seed=1, gridsize=2)
    nn = g["nn_indices"]
    np.testing.assert_array_equal(g["coords_nn"][:, 0, 0, :], arrays["xcoords"][nn])
    np.testing.assert_array_equal(g["coords_nn"][:, 0, 1, :], arrays["ycoords"][nn])
    np.testing.assert_allclose(g["coords_offsets"][:, 0, :, 0], g["coords_nn"][:, 0].mean(axis=-1))
    np.testing.assert_allclose(g["coords_relative"], -(g["coords_nn"] - g["coords_offsets"]))
    np.testing.assert_allclose(g["coords_relative"].sum(axis=-1), 0.0, atol=1e-12)  # zero-mean per group
    np.testing.assert_array_equal(g["coords_start_nn"][:, 0, 0, :], arrays["xcoords_start"][nn])
    np.testing.assert_allclose(g["coords_start_offsets"][:, 0, 1, 0],
                               arrays["ycoords_start"][nn].mean(axis=1))
    np.testing.assert_allclose(g["coords_start_relative"], -(g["coords_start_nn"] - g["coords_start_offsets"]))
    # translation of all start positions leaves the relative offsets unchanged
    np.testing.assert_allclose(g["coords_start_relative"], g["coords_relative"], atol=1e-12)


def test_gridsize1_relative_offsets_are_zero(base_arrays, write_dataset):
    g = _raw(base_arrays, write_dataset).generate_grouped_data(16, nsamples=12, seed=0, gridsize=1)
    assert np.all(g["coords_relative"] == 0)
    np.testing.assert_array_equal(g["coords_offsets"], g["coords_nn"])


def test_grouped_patterns_and_normalisation(base_arrays, write_dataset):
    raw = _raw(base_arrays, write_dataset, m=20)
    n = 16
    g = raw.generate_grouped_data(n, K=5, nsamples=18, seed=2, gridsize=2)
    nn = g["nn_indices"]
    for b in range(nn.shape[0]):
        for c in range(4):
            np.testing.assert_array_equal(g["diffraction"][b, :, :, c], raw.diff3d[nn[b, c]])
    # independent f: float64 energies of the selected patterns, with multiplicity
    energies = [np.sum(raw.diff3d[i].astype(np.float64) ** 2) for i in nn.reshape(-1)]
    f_ref = np.sqrt((n / 2) ** 2 / np.mean(energies))
    np.testing.assert_allclose(g["X_full"], f_ref * g["diffraction"].astype(np.float64), rtol=1e-6)
    mean_intensity = np.mean(np.sum(g["X_full"].astype(np.float64) ** 2, axis=(1, 2)))
    assert abs(mean_intensity / (n / 2) ** 2 - 1) < 1e-4
    assert g["X_full"].dtype == np.float32
    assert normalisation_factor(g["diffraction"]) == np.float32(f_ref)
    # streaming form (per-pattern energies + membership) used by the memory-mapped builder
    np.testing.assert_allclose(pattern_energies(raw.diff3d)[nn.reshape(-1)], energies, rtol=1e-12)
    assert factor_from_energies(pattern_energies(raw.diff3d), nn, n) == np.float32(f_ref)


def test_normalisation_counts_multiplicity():
    """A pattern drawn twice weighs twice (f over grouped data, not over the file)."""
    diff = np.stack([np.ones((16, 16)), 3 * np.ones((16, 16))]).astype(np.float32)
    grouped = np.stack([diff[0], diff[0], diff[1]])[..., None]  # (3, 16, 16, 1)
    mean_energy = (256 + 256 + 9 * 256) / 3
    assert np.isclose(normalisation_factor(grouped), np.sqrt(64 / mean_energy), rtol=1e-7)


def test_y_taken_from_raw_y(base_arrays, write_dataset):
    arrays = base_arrays(m=12)
    rng = np.random.default_rng(5)
    arrays["Y"] = (rng.normal(size=(12, 16, 16)) + 1j * rng.normal(size=(12, 16, 16))).astype(np.complex64)
    raw = RawData.from_file(write_dataset(arrays))
    g = raw.generate_grouped_data(16, K=4, nsamples=6, seed=0, gridsize=2)
    for b in range(6):
        for c in range(4):
            np.testing.assert_array_equal(g["Y"][b, :, :, c], arrays["Y"][g["nn_indices"][b, c]])


def test_ground_truth_at_integer_positions_equals_padded_slice():
    rng = np.random.default_rng(0)
    n = 16
    obj = (rng.normal(size=(40, 50)) + 1j * rng.normal(size=(40, 50))).astype(np.complex64)
    xs = np.array([0.0, 8.0, 25.0, 49.0, 3.0])  # includes positions near/over the border
    ys = np.array([0.0, 8.0, 20.0, 39.0, 37.0])
    coords_nn = np.zeros((5, 1, 2, 1))
    coords_nn[:, 0, 0, 0] = xs
    coords_nn[:, 0, 1, 0] = ys
    patches = extract_ground_truth(obj, coords_nn, n)
    padded = np.pad(obj, n // 2)
    for k, (x, y) in enumerate(zip(xs.astype(int), ys.astype(int))):
        np.testing.assert_array_equal(patches[k, :, :, 0], padded[y:y + n, x:x + n])


def test_ground_truth_at_fractional_positions_matches_bilinear_loop():
    rng = np.random.default_rng(1)
    n = 16
    obj = (rng.normal(size=(30, 34)) + 1j * rng.normal(size=(30, 34))).astype(np.complex64)
    xs = np.array([10.25, 0.5, 33.75, 17.1])
    ys = np.array([12.6, 29.9, 0.3, 15.0])
    coords_nn = np.zeros((4, 1, 2, 1))
    coords_nn[:, 0, 0, 0] = xs
    coords_nn[:, 0, 1, 0] = ys
    patches = extract_ground_truth(obj, coords_nn, n)
    assert patches.dtype == np.complex64
    for k in range(4):
        ref = _bilinear_patch_reference(obj, xs[k], ys[k], n)
        np.testing.assert_allclose(patches[k, :, :, 0], ref, atol=2e-6 * np.abs(obj).max())


def test_gridsize2_each_channel_centred_on_its_own_member(base_arrays, write_dataset):
    arrays = base_arrays(m=16, n=16)
    arrays["xcoords"] = arrays["xcoords"] + 0.37  # fractional positions
    raw = RawData.from_file(write_dataset(arrays))
    g = raw.generate_grouped_data(16, K=5, nsamples=4, seed=3, gridsize=2)
    obj = arrays["objectGuess"]
    for b in range(4):
        centre = g["coords_offsets"][b, 0, :, 0]
        for c in range(4):
            x, y = g["coords_nn"][b, 0, :, c]
            own = _bilinear_patch_reference(obj, x, y, 16)
            np.testing.assert_allclose(g["Y"][b, :, :, c], own, atol=1e-5)
            rx, ry = 2 * centre - np.array([x, y])  # the original's point reflection
            reflected = _bilinear_patch_reference(obj, rx, ry, 16)
            assert np.max(np.abs(g["Y"][b, :, :, c] - reflected)) > 1e-2


def test_sample_indices_passed_through(base_arrays, write_dataset):
    raw = subsample_raw_data(_raw(base_arrays, write_dataset, m=12), 8, subsample_seed=4)
    g = raw.generate_grouped_data(16, nsamples=8, seed=0, gridsize=1)
    np.testing.assert_array_equal(g["sample_indices"], raw.sample_indices)
    assert g["sample_indices"].shape == (8,)


def test_position_only_grouping_has_no_patterns():
    x = np.arange(10.0)
    raw = RawData.from_coords_without_pc(x, x ** 1.5, None, np.ones((16, 16)), None)
    g = raw.generate_grouped_data(16, K=4, nsamples=5, seed=0, gridsize=2)
    assert g["diffraction"] is None and g["X_full"] is None and g["Y"] is None
    assert g["coords_nn"].shape == (5, 1, 2, 4)


def test_all_zero_selection_rejected():
    diff = np.zeros((4, 16, 16), dtype=np.float32)
    diff[3] = 1.0
    raw = RawData.from_coords_without_pc(np.arange(4.0), np.zeros(4), diff, np.ones((16, 16)), None)
    with pytest.raises(ValueError, match="cannot normalise"):
        raw.generate_grouped_data(16, nsamples=2, gridsize=1, sequential_sampling=True)
