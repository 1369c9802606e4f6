"""Probe mask, normalisation, default/estimated probes and illumination (physics §6)."""

import numpy as np
import pytest
from scipy.ndimage import correlate, gaussian_filter
from scipy.signal.windows import gaussian

from ptychopinn_plugin.physics.probe import (
    default_probe,
    estimate_probe,
    illuminate,
    normalise_probe,
    probe_mask,
    smooth_3x3,
    smoothing_kernel,
)


def test_probe_mask_812_pixels_at_64_and_brute_force():
    assert probe_mask(64).sum() == 812
    for n in (16, 64):
        m = probe_mask(n)
        assert m.dtype == np.float32
        for i in range(n):
            for j in range(n):
                inside = np.hypot(i - n / 2 + 0.5, j - n / 2 + 0.5) < n // 4
                assert m[i, j] == float(inside)
        # centred on (N-1)/2: symmetric under both flips
        np.testing.assert_array_equal(m, m[::-1])
        np.testing.assert_array_equal(m, m[:, ::-1])


def _random_probe(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))).astype(np.complex64)


@pytest.mark.parametrize("scale", [4.0, 10.0, 0.7])
def test_normalise_probe_fixes_masked_mean(scale):
    raw = _random_probe(32)
    p = normalise_probe(raw, scale)
    assert p.dtype == np.complex64 and p.shape == (32, 32)
    masked_mean = np.mean(np.abs(probe_mask(32) * p.astype(np.complex128)))
    assert masked_mean == pytest.approx(1 / scale, rel=1e-6)
    # a pure rescaling of the raw probe normalises to the same probe
    np.testing.assert_allclose(normalise_probe(3.5 * raw, scale), p, rtol=1e-6, atol=1e-7)
    # proportional to the raw probe
    ratio = p.astype(np.complex128) / raw.astype(np.complex128)
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


def test_normalise_probe_accepts_legacy_layout_and_rejects_bad_input():
    raw = _random_probe(16)
    np.testing.assert_array_equal(normalise_probe(raw[..., None], 4.0), normalise_probe(raw, 4.0))
    with pytest.raises(ValueError, match="zero everywhere inside the circular mask"):
        normalise_probe(np.zeros((16, 16), np.complex64))
    with pytest.raises(ValueError, match="probe_scale"):
        normalise_probe(raw, 0.0)
    with pytest.raises(ValueError, match=r"\(N, N\)"):
        normalise_probe(np.ones((16, 8)))


def test_default_probe_matches_independent_recipe():
    n = 64
    # independent window: scipy's Gaussian window has its peak sample normalised to 1
    # for odd N only; divide by the max ourselves as the spec says.
    w = gaussian(n, std=n / (0.7 * np.pi**2))
    w = w / w.max()
    disk = np.outer(w, w) > 0.5
    assert disk.sum() == 376
    assert np.sqrt(disk.sum() / np.pi) == pytest.approx(10.9, abs=0.1)
    expected = gaussian_filter(disk.astype(np.float64), sigma=1) + 1e-9
    probe = default_probe(n)
    assert probe.dtype == np.float32 and probe.shape == (n, n)
    np.testing.assert_allclose(probe, expected, rtol=1e-6, atol=1e-9)
    assert probe.min() > 0  # +1e-9 survives where the truncated blur is exactly 0


def test_estimate_probe_recovers_gaussian_width():
    n, sigma0 = 64, 3.0
    k = np.arange(n) - n / 2
    g = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * sigma0**2))  # centred on pixel N/2
    pattern = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(g)))
    assert np.max(np.abs(pattern.imag)) < 1e-9 * np.max(np.abs(pattern))
    X = np.repeat(np.abs(pattern.real)[None, :, :, None], 3, axis=0).astype(np.float32)
    probe = estimate_probe(X)
    assert probe.dtype == np.float32 and probe.shape == (n, n)
    mask = probe_mask(n).astype(bool)
    assert np.all(probe[~mask] == 0)
    assert probe.sum() == pytest.approx(default_probe(n).astype(np.float64).sum(), rel=1e-5)
    # the estimated profile is exp(-r²/2σ²) about (N/2-0.5, N/2-0.5) with σ ≈ σ0
    t = np.arange(n) - (n / 2 - 0.5)
    r2 = t[:, None] ** 2 + t[None, :] ** 2
    inside = mask & (probe > 1e-3 * probe.max())
    ratio = probe[inside] / probe.max()
    fitted = np.polyfit(r2[inside] - r2[inside].min(), np.log(ratio), 1)
    sigma_fit = np.sqrt(-1 / (2 * fitted[0]))
    assert sigma_fit == pytest.approx(sigma0, rel=0.01)
    # channel-less layouts give the same estimate
    np.testing.assert_allclose(estimate_probe(X[..., 0]), probe, rtol=1e-6)


def test_smoothing_kernel_is_normalised_outer_product():
    kern = smoothing_kernel(0.8)
    w = np.exp(-np.array([1.0, 0.0, 1.0]) / (2 * 0.8**2))
    np.testing.assert_allclose(kern, np.outer(w, w) / np.outer(w, w).sum(), rtol=1e-12)
    assert kern.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        smoothing_kernel(0.0)


def test_smoothing_pads_by_reflection_without_repeating_the_edge():
    rng = np.random.default_rng(3)
    img = rng.standard_normal((2, 9, 9)) + 1j * rng.standard_normal((2, 9, 9))
    kern = smoothing_kernel(1.3)
    out = smooth_3x3(img, 1.3)
    for b in range(2):
        # SciPy 'mirror' = "c b | a b c" = edge not repeated
        ref = correlate(img[b].real, kern, mode="mirror") + 1j * correlate(img[b].imag, kern, mode="mirror")
        np.testing.assert_allclose(out[b], ref, rtol=1e-12, atol=1e-12)
        wrong = correlate(img[b].real, kern, mode="reflect")  # edge repeated: must differ
        assert np.max(np.abs(out[b].real - wrong)) > 1e-3
        # interior pixels are untouched by the boundary rule: brute-force sum
        i, j = 4, 5
        manual = sum(kern[di, dj] * img[b, i + di - 1, j + dj - 1] for di in range(3) for dj in range(3))
        assert out[b, i, j] == pytest.approx(manual, rel=1e-12)


def test_illuminate_order_product_smooth_mask():
    rng = np.random.default_rng(4)
    n = 16
    probe = normalise_probe(_random_probe(n, 5))
    z = (rng.standard_normal((3, n, n)) + 1j * rng.standard_normal((3, n, n))).astype(np.complex64)
    plain = illuminate(z, probe)
    assert plain.dtype == np.complex64
    np.testing.assert_allclose(plain, z * probe, rtol=1e-6)
    mask = probe_mask(n)
    masked = illuminate(z, probe, 0.0, True)
    np.testing.assert_allclose(masked, z * probe * mask, rtol=1e-6)
    both = illuminate(z, probe, 0.9, True)
    kern = smoothing_kernel(0.9)
    for k in range(3):
        psi = (z[k] * probe).astype(np.complex128)
        sm = correlate(psi.real, kern, mode="mirror") + 1j * correlate(psi.imag, kern, mode="mirror")
        np.testing.assert_allclose(both[k], sm * mask, rtol=1e-5, atol=1e-6)
    # mask after smoothing: smoothing a masked product would leak inside the rim differently
    smooth_of_masked = smooth_3x3(z * probe * mask, 0.9)
    assert np.max(np.abs(both - smooth_of_masked * mask)) > 1e-3
    with pytest.raises(ValueError, match="matching the probe"):
        illuminate(z[:, :8, :8], probe)
