"""Far-field forward model, intensity scale and loss references (physics §7, §8, §12.1)."""

import numpy as np
import pytest
from scipy.special import gammaln
from scipy.stats import poisson

from ptychopinn_plugin.physics.forward import far_field_amplitude, far_field_intensity
from ptychopinn_plugin.physics.intensity import (
    intensity_scale,
    mae_loss,
    poisson_nll,
    realspace_mae,
    total_variation,
)


def _psi(k, n, seed=0, dtype=np.complex64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((k, n, n)) + 1j * rng.standard_normal((k, n, n))).astype(dtype)


def _brute_force_dft(x):
    n = x.shape[0]
    f = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    return f @ x @ f.T


def test_far_field_matches_explicit_dft_and_centring():
    psi = _psi(3, 8, dtype=np.complex128)
    amp = far_field_amplitude(psi)
    intensity = far_field_intensity(psi)
    assert amp.dtype == np.float64 and amp.shape == (3, 8, 8)
    for k in range(3):
        spec = _brute_force_dft(psi[k])
        expected_i = np.abs(spec) ** 2 / 64
        np.testing.assert_allclose(intensity[k], expected_i, rtol=1e-10)
        # zero frequency lands on pixel (N/2, N/2); shifting by N/2 is fftshift for even N
        np.testing.assert_allclose(amp[k], np.sqrt(np.roll(expected_i, (4, 4), axis=(0, 1))), rtol=1e-10)
        assert amp[k, 4, 4] == pytest.approx(abs(psi[k].sum()) / 8, rel=1e-12)
    np.testing.assert_allclose(far_field_intensity(psi, shift=True), amp**2, rtol=1e-10)


def test_parseval_energy_conservation():
    psi = _psi(5, 64, seed=1)
    amp = far_field_amplitude(psi)
    assert amp.dtype == np.float32
    energy_in = np.sum(np.abs(psi.astype(np.complex128)) ** 2, axis=(1, 2))
    energy_out = np.sum(amp.astype(np.float64) ** 2, axis=(1, 2))
    np.testing.assert_allclose(energy_out, energy_in, rtol=1e-5)


def test_amplitude_ignores_real_space_shift_and_conjugation_flips():
    psi = _psi(1, 16, seed=2, dtype=np.complex128)
    a = far_field_amplitude(psi)
    np.testing.assert_allclose(far_field_amplitude(np.roll(psi, (3, -5), axis=(1, 2))), a, rtol=1e-10)
    # |F(conj ψ)|[k] = |F ψ|[-k]: a point reflection about the centre pixel (N/2, N/2)
    flipped = far_field_amplitude(np.conj(psi))[0]
    reflected = np.roll(a[0][::-1, ::-1], (1, 1), axis=(0, 1))
    np.testing.assert_allclose(flipped, reflected, rtol=1e-10)


def test_intensity_scale_closed_form_and_photon_meaning():
    assert intensity_scale(1e9, 64) == pytest.approx(np.sqrt(1e9) / 32)
    rng = np.random.default_rng(3)
    x = rng.random((10, 64, 64))
    x *= np.sqrt(32**2 / np.mean(np.sum(x**2, axis=(1, 2))))  # mean Σ X² = (N/2)²
    s = intensity_scale(1e6, 64)
    assert np.mean(np.sum((s * x) ** 2, axis=(1, 2))) == pytest.approx(1e6, rel=1e-9)
    with pytest.raises(ValueError, match="nphotons"):
        intensity_scale(0, 64)


def test_poisson_nll_matches_scipy_log_pmf_up_to_log_factorial():
    rng = np.random.default_rng(4)
    lam = rng.uniform(0.1, 50, size=(4, 8, 8, 2))
    y = rng.poisson(lam).astype(np.float64)
    expected = np.mean(-poisson.logpmf(y, lam) - gammaln(y + 1))
    assert poisson_nll(lam, y) == pytest.approx(expected, rel=1e-12)
    # the floor keeps λ = 0 finite: 0 - y·log(1e-12)
    assert poisson_nll(np.zeros(1), np.array([2.0])) == pytest.approx(-2 * np.log(1e-12))
    with pytest.raises(ValueError, match="differs"):
        poisson_nll(lam, y[..., :1])


def test_mae_tv_and_realspace_mae_brute_force():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3, 4, 4, 1))
    assert mae_loss(a, b) == pytest.approx(sum(abs(u - v) for u, v in zip(a.ravel(), b.ravel())) / a.size)
    o = (rng.standard_normal((2, 5, 5, 1)) + 1j * rng.standard_normal((2, 5, 5, 1))).astype(np.complex64)
    tv = 0.0
    for bb in range(2):
        for i in range(5):
            for j in range(5):
                if i + 1 < 5:
                    d = complex(o[bb, i + 1, j, 0]) - complex(o[bb, i, j, 0])
                    tv += d.real**2 + d.imag**2
                if j + 1 < 5:
                    d = complex(o[bb, i, j + 1, 0]) - complex(o[bb, i, j, 0])
                    tv += d.real**2 + d.imag**2
    assert total_variation(o) == pytest.approx(tv, rel=1e-6)
    y = (rng.standard_normal(o.shape) + 1j * rng.standard_normal(o.shape)).astype(np.complex64)
    expected = np.mean(np.abs(np.abs(o) - np.abs(y))) + np.mean(np.abs(np.angle(o) - np.angle(y)))
    assert realspace_mae(o, y) == pytest.approx(expected, rel=1e-6)
    assert realspace_mae(y, y) == 0.0
