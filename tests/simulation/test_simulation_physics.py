"""Physics of the simulator's building blocks: far field, probe, object, scan."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.simulation import far_field_amplitude, make_object, make_probe, probe_mask, raster_positions


def _dft_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n)


def test_far_field_matches_brute_force_dft_with_fftshift():
    rng = np.random.default_rng(0)
    n = 16
    psi = rng.standard_normal((2, n, n)) + 1j * rng.standard_normal((2, n, n))
    f = _dft_matrix(n)
    for b in range(2):
        spectrum = f @ psi[b] @ f.T  # Ψ[k,l] = Σ ψ[i,j] e^{−2πi(ki+lj)/N}
        ref = np.sqrt(np.abs(spectrum) ** 2 / n**2)
        ref = np.roll(ref, (n // 2, n // 2), axis=(0, 1))  # zero frequency to (N/2, N/2)
        np.testing.assert_allclose(far_field_amplitude(psi)[b], ref, rtol=1e-10, atol=1e-12)


def test_parseval_energy_is_conserved():
    rng = np.random.default_rng(1)
    psi = rng.standard_normal((3, 64, 64)) + 1j * rng.standard_normal((3, 64, 64))
    amp = far_field_amplitude(psi)
    np.testing.assert_allclose((amp**2).sum(axis=(1, 2)), (np.abs(psi) ** 2).sum(axis=(1, 2)), rtol=1e-12)


def test_flat_exit_wave_puts_all_power_at_pixel_n_half():
    n = 64
    amp = far_field_amplitude(np.ones((n, n), dtype=np.complex64))
    assert amp[n // 2, n // 2] == pytest.approx(n)  # |N²|²/N² = N² → amplitude N
    amp[n // 2, n // 2] = 0
    assert np.abs(amp).max() < 1e-9


@pytest.mark.parametrize("n", [64, 128])
def test_flat_object_diffraction_is_centred_on_n_half(n):
    """Probe on a flat object: the pattern is the pupil, symmetric about (N/2, N/2)."""
    probe = make_probe(n)
    intensity = far_field_amplitude(probe * np.ones((n, n))) ** 2
    idx = np.arange(n)
    total = intensity.sum()
    assert (intensity.sum(axis=1) @ idx) / total == pytest.approx(n / 2, abs=1e-6)
    assert (intensity.sum(axis=0) @ idx) / total == pytest.approx(n / 2, abs=1e-6)
    # Point symmetry about (N/2, N/2): I[N/2 + a, N/2 + b] == I[N/2 − a, N/2 − b].
    inner = intensity[1:, 1:]
    np.testing.assert_allclose(inner, inner[::-1, ::-1], rtol=1e-6, atol=1e-9 * intensity.max())


def test_probe_mask_has_spec_pixel_count():
    assert int(probe_mask(64).sum()) == 812  # physics §6.2


@pytest.mark.parametrize("n", [64, 128, 256])
def test_probe_is_normalised_centred_and_fits_the_central_window(n):
    probe = make_probe(n, probe_scale=4.0)
    assert probe.shape == (n, n) and probe.dtype == np.complex64
    np.testing.assert_allclose(np.mean(np.abs(probe_mask(n) * probe)), 0.25, rtol=1e-5)  # §6.1
    intensity = np.abs(probe.astype(np.complex128)) ** 2
    idx = np.arange(n)
    assert (intensity.sum(axis=1) @ idx) / intensity.sum() == pytest.approx(n / 2, abs=0.05)
    assert (intensity.sum(axis=0) @ idx) / intensity.sum() == pytest.approx(n / 2, abs=0.05)
    window = intensity[n // 4 : 3 * n // 4, n // 4 : 3 * n // 4].sum() / intensity.sum()
    assert window > 0.97
    # Defocus makes the phase curved (not a flat, real probe).
    assert np.ptp(np.angle(probe[n // 2 - 4 : n // 2 + 5, n // 2])) > 0.1


def test_object_ranges_and_fine_structure():
    obj = make_object(160, 3)
    assert obj.dtype == np.complex64 and obj.shape == (160, 160)
    amp, phase = np.abs(obj), np.angle(obj)
    assert amp.min() >= 0.5 - 1e-6 and amp.max() <= 1.0 + 1e-6
    assert phase.min() >= -1.0 - 1e-6 and phase.max() <= 1.0 + 1e-6
    assert np.ptp(amp) > 0.3 and np.ptp(phase) > 1.0  # both channels carry contrast
    assert abs(np.corrcoef(amp.ravel(), phase.ravel())[0, 1]) < 0.9  # related, not copies
    k = np.fft.fftfreq(160)
    high = np.hypot(k[:, None], k[None, :]) > 0.125  # periods shorter than 8 px
    for img in (amp, phase):
        power = np.abs(np.fft.fft2(img - img.mean())) ** 2
        assert power[high].sum() / power.sum() > 0.1


def test_object_is_deterministic_by_seed_and_seeds_differ():
    np.testing.assert_array_equal(make_object(96, 5), make_object(96, 5))
    assert np.mean(np.abs(make_object(96, 5) - make_object(96, 6))) > 0.05
    assert make_object((80, 120), 0).shape == (80, 120)


def test_raster_positions_stay_inside_the_allowed_region():
    rng = np.random.default_rng(0)
    x, y = raster_positions(150, 64, rng, n_positions=50, margin=3, jitter=2.0)
    assert x.shape == y.shape == (50,)
    lo, hi = 32 + 3, 150 - 32 - 3
    assert x.min() >= lo and x.max() <= hi and y.min() >= lo and y.max() <= hi
    with pytest.raises(ValueError, match="exactly one"):
        raster_positions(150, 64, rng)
