"""Data-consistency map (issue #13): against an independent NumPy computation, and at the
Poisson noise level for the true object while a flat object is clearly worse."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.physics.consistency import (
    ConsistencyMap,
    data_consistency,
    expected_poisson_deviance,
    measured_counts,
    poisson_deviance,
)
from ptychopinn_plugin.simulation import SimulationConfig
from ptychopinn_plugin.simulation.dataset import simulate_dataset


@pytest.fixture(scope="module")
def sample():
    """The app's sample at a small size: 64 positions, 1e6 photons, true object known."""
    return simulate_dataset(SimulationConfig(N=64, object_size=128, n_positions=64, seed=3, nphotons=1e6), stream=1)


def _independent_map(obj, xs, ys, amplitude, probe):
    """Integer positions only: plain slicing, np.fft, explicit loops (no shared helper)."""
    n = probe.shape[0]
    predicted = []
    for x, y in zip(xs, ys):
        r0, c0 = int(y) - n // 2, int(x) - n // 2
        patch = obj[r0:r0 + n, c0:c0 + n]
        field = np.fft.fft2(patch.astype(np.complex128) * probe)
        predicted.append(np.fft.fftshift(np.abs(field) ** 2) / n**2)
    predicted = np.array(predicted)
    counts = amplitude.astype(np.float64) ** 2
    gain = counts.sum() / predicted.sum()
    lam = gain * predicted
    r = np.abs(np.sqrt(lam) - amplitude).sum(axis=(1, 2)) / amplitude.sum(axis=(1, 2))
    dev = np.zeros(len(xs))
    for k in range(len(xs)):
        y_k, l_k = counts[k].ravel(), lam[k].ravel()
        terms = [2 * ((yy * np.log(yy / ll) if yy > 0 else 0.0) - (yy - ll)) for yy, ll in zip(y_k, l_k)]
        dev[k] = np.mean(terms)
    return gain, r, dev


def test_map_matches_an_independent_numpy_computation(sample):
    rng = np.random.default_rng(0)
    obj = sample.objectGuess
    xs = np.rint(sample.xcoords[:6])
    ys = np.rint(sample.ycoords[:6])
    # Patterns that are not the object's own (noise on top), so the misfit is not trivial.
    amplitude = sample.diffraction[:6] * rng.uniform(0.8, 1.2, size=sample.diffraction[:6].shape)
    probe = sample.probeGuess.astype(np.complex128)
    gain, r, dev = _independent_map(obj, xs, ys, amplitude, probe)
    ours = data_consistency(obj, (0.0, 0.0), xs, ys, amplitude, probe, chunk=4)
    assert ours.gain == pytest.approx(gain, rel=1e-6)
    np.testing.assert_allclose(ours.r_factor, r, rtol=1e-5)
    np.testing.assert_allclose(ours.deviance, dev, rtol=1e-5)
    np.testing.assert_array_equal(ours.coverage, np.ones(6))
    assert ours.x.dtype == np.float64 and ours.r_factor.shape == (6,)


def test_true_object_is_at_the_noise_level_and_a_flat_object_is_not(sample):
    args = (sample.xcoords, sample.ycoords, sample.diffraction, sample.probeGuess)
    truth = data_consistency(sample.objectGuess, (0.0, 0.0), *args)
    flat = data_consistency(np.ones_like(sample.objectGuess), (0.0, 0.0), *args)
    ratio_truth = truth.summary()["deviance_ratio_median"]
    assert 0.9 < ratio_truth < 1.15, ratio_truth
    assert flat.summary()["deviance_ratio_median"] > 20 * ratio_truth
    assert np.median(flat.r_factor) > 2 * np.median(truth.r_factor)
    # Every position of the true object is within noise (no position > 1.5x).
    assert truth.summary()["deviance_ratio_max"] < 1.5


def test_global_scale_is_absorbed_by_the_gain(sample):
    args = (sample.xcoords[:16], sample.ycoords[:16], sample.diffraction[:16], sample.probeGuess)
    a = data_consistency(sample.objectGuess, (0.0, 0.0), *args)
    b = data_consistency(3.0 * sample.objectGuess, (0.0, 0.0), *args)
    assert b.gain == pytest.approx(a.gain / 9.0, rel=1e-5)
    np.testing.assert_allclose(b.r_factor, a.r_factor, rtol=1e-5)


def test_origin_moves_the_frame(sample):
    """The object padded on the top/left, with the padding as a negative origin, gives the same map."""
    args = (sample.xcoords[:16], sample.ycoords[:16], sample.diffraction[:16], sample.probeGuess)
    whole = data_consistency(sample.objectGuess, (0.0, 0.0), *args)
    padded = data_consistency(np.pad(sample.objectGuess, ((5, 0), (7, 0))), (-7.0, -5.0), *args)
    np.testing.assert_allclose(padded.deviance, whole.deviance, rtol=1e-9)


def test_partial_coverage_is_reported(sample):
    obj = sample.objectGuess.copy()
    obj[:, :64] = 0  # a canvas blank on its left half
    result = data_consistency(obj, (0.0, 0.0), sample.xcoords, sample.ycoords, sample.diffraction,
                              sample.probeGuess)
    left = sample.xcoords < 40
    right = sample.xcoords > 90
    assert result.coverage[right].min() > 0.999
    assert result.coverage[left].max() < 0.6


def test_expected_deviance_matches_monte_carlo():
    rng = np.random.default_rng(1)
    for lam in (0.01, 0.5, 3.0, 40.0, 5e3):
        draws = rng.poisson(lam, size=200_000)
        mc = poisson_deviance(draws, np.full(draws.shape, lam)).mean()
        assert expected_poisson_deviance(np.array([lam]))[0] == pytest.approx(mc, rel=0.02, abs=1e-3)


def test_photons_rescale_counts(sample):
    counts = measured_counts(sample.diffraction, photons_per_pattern=1e4)
    assert counts.sum(axis=(1, 2)).mean() == pytest.approx(1e4)
    np.testing.assert_allclose(measured_counts(sample.diffraction), sample.diffraction.astype(np.float64) ** 2)


def test_bad_input_is_refused_with_the_reason(sample):
    with pytest.raises(ValueError, match="one pattern per scan position"):
        data_consistency(sample.objectGuess, (0, 0), sample.xcoords[:3], sample.ycoords[:3], sample.diffraction[:4],
                         sample.probeGuess)
    with pytest.raises(ValueError, match="probe"):
        data_consistency(sample.objectGuess, (0, 0), sample.xcoords[:3], sample.ycoords[:3], sample.diffraction[:3],
                         sample.probeGuess[:32, :32])
    with pytest.raises(ValueError, match="predicts no photons"):
        data_consistency(np.zeros((8, 8), np.complex64), (0, 0), sample.xcoords[:3], sample.ycoords[:3],
                         sample.diffraction[:3], sample.probeGuess)
    with pytest.raises(ValueError, match="photons_per_pattern"):
        measured_counts(sample.diffraction, photons_per_pattern=-1)


def test_arrays_have_the_documented_names(sample):
    result = data_consistency(sample.objectGuess, (0, 0), sample.xcoords[:4], sample.ycoords[:4],
                              sample.diffraction[:4], sample.probeGuess)
    assert isinstance(result, ConsistencyMap)
    assert sorted(result.arrays()) == sorted(["misfit_x", "misfit_y", "misfit_r_factor", "misfit_deviance",
                                              "misfit_deviance_expected", "misfit_coverage", "misfit_gain"])


def test_large_scans_recompute_instead_of_keeping_the_intensities(sample, monkeypatch):
    """Above the cache budget the second pass recomputes the intensities: same map."""
    import ptychopinn_plugin.physics.consistency as consistency

    args = (sample.objectGuess, (0.0, 0.0), sample.xcoords[:10], sample.ycoords[:10], sample.diffraction[:10],
            sample.probeGuess)
    kept = consistency.data_consistency(*args, chunk=3)
    monkeypatch.setattr(consistency, "INTENSITY_CACHE_BYTES", 0)
    recomputed = consistency.data_consistency(*args, chunk=3)
    np.testing.assert_array_equal(recomputed.deviance, kept.deviance)
    np.testing.assert_array_equal(recomputed.r_factor, kept.r_factor)
