"""Fourier ring correlation (physics §11): rings, curve, cut-offs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptychopinn_plugin.evaluation.frc import frc_curve, frc_cutoff, ring_indices


def _brute_force_frc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.shape[0]
    f1 = np.fft.fftshift(np.fft.fft2(a))
    f2 = np.fft.fftshift(np.fft.fft2(b))
    n_rings = int(round(math.hypot(n // 2, n // 2))) + 1
    num = np.zeros(n_rings, dtype=complex)
    p1 = np.zeros(n_rings)
    p2 = np.zeros(n_rings)
    for i in range(n):
        for j in range(n):
            r = int(round(math.hypot(i - n // 2, j - n // 2)))
            num[r] += f1[i, j] * np.conj(f2[i, j])
            p1[r] += abs(f1[i, j]) ** 2
            p2[r] += abs(f2[i, j]) ** 2
    return np.abs(num) / np.sqrt(p1 * p2)


@pytest.mark.parametrize("n", [16, 17])
def test_curve_matches_brute_force_loop(n):
    rng = np.random.default_rng(n)
    a = rng.random((n, n))
    b = a + 0.3 * rng.random((n, n))
    np.testing.assert_allclose(frc_curve(a, b), _brute_force_frc(a, b), rtol=1e-10)


def test_rectangular_images_are_centre_cropped_to_a_square():
    rng = np.random.default_rng(1)
    a, b = rng.random((20, 26)), rng.random((20, 26))
    np.testing.assert_allclose(frc_curve(a, b), _brute_force_frc(a[:, 3:23], b[:, 3:23]), rtol=1e-10)


def test_ring_count_includes_corners():
    assert ring_indices(64).max() == round(32 * math.sqrt(2))
    assert ring_indices(64)[32, 32] == 0 and ring_indices(64)[32, 63] == 31


def test_identical_images_never_drop_below_threshold():
    img = np.random.default_rng(2).random((64, 64))
    curve = frc_curve(img, img)
    np.testing.assert_allclose(curve, 1.0, atol=1e-12)
    assert frc_cutoff(curve, 0.5) == len(curve) == round(32 * math.sqrt(2)) + 1


def test_independent_noise_drops_at_the_first_rings():
    rng = np.random.default_rng(3)
    curve = frc_curve(rng.standard_normal((64, 64)), rng.standard_normal((64, 64)))
    assert curve[0] == pytest.approx(1.0)  # ring 0 is the single DC pixel
    assert frc_cutoff(curve, 0.5) < 3
    assert frc_cutoff(curve, 1 / 7) < 5
    assert np.mean(curve[5:]) < 0.2


def test_cutoff_interpolation_and_edge_cases():
    curve = np.array([1.0, 0.8, 0.6, 0.4, 0.2])
    assert frc_cutoff(curve, 0.5) == pytest.approx(2.5)  # 2 + (0.6 − 0.5)/(0.6 − 0.4)
    assert frc_cutoff(curve, 0.7) == pytest.approx(1 + 0.1 / 0.2)
    assert frc_cutoff(np.array([0.3, 0.9, 0.9]), 0.5) == 0.0
    assert frc_cutoff(np.array([0.9, 0.8]), 0.5) == 2.0


def test_curve_smoothing_is_optional():
    rng = np.random.default_rng(4)
    a = rng.random((32, 32))
    b = a + rng.random((32, 32))
    raw, smooth = frc_curve(a, b), frc_curve(a, b, sigma=2.0)
    assert raw.shape == smooth.shape and np.std(np.diff(smooth)) < np.std(np.diff(raw))
