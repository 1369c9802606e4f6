"""Canvas geometry helpers (physics §5)."""

import numpy as np
import pytest

from ptychopinn_plugin.physics.geometry import (
    border_mask,
    canvas_size,
    central_window,
    crop_N,
    flatten_channels,
    pad_P,
    unflatten_channels,
)


@pytest.mark.parametrize(
    ("N", "g", "offset", "jitter", "expected"),
    [(64, 1, 4, 10, 74), (64, 2, 4, 10, 78), (128, 3, 4, 10, 146), (256, 1, 4, 0, 256)],
)
def test_canvas_size_formula(N, g, offset, jitter, expected):
    assert canvas_size(N, g, offset, jitter) == expected


@pytest.mark.parametrize(("g", "offset", "jitter"), [(1, 4, 9), (2, 3, 10), (4, 1, 0)])
def test_canvas_size_rejects_odd_margin(g, offset, jitter):
    margin = (g - 1) * offset + jitter
    with pytest.raises(ValueError, match=f"= {margin} must be even"):
        canvas_size(64, g, offset, jitter)


def test_central_window_brute_force():
    for n in (8, 64):
        w = central_window(n)
        assert w.shape == (n, n) and w.dtype == np.float32
        for i in range(n):
            for j in range(n):
                inside = n // 4 <= i < 3 * n // 4 and n // 4 <= j < 3 * n // 4
                assert w[i, j] == (1.0 if inside else 0.0)
        assert w.sum() == (n // 2) ** 2
        np.testing.assert_array_equal(border_mask(n), 1 - w)


def test_pad_then_crop_roundtrip_and_zero_margin():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 8, 8)) + 1j * rng.standard_normal((3, 8, 8))).astype(np.complex64)
    big = pad_P(x, 14)
    assert big.shape == (3, 14, 14) and big.dtype == np.complex64
    np.testing.assert_array_equal(crop_N(big, 8), x)
    np.testing.assert_array_equal(big[:, 3:11, 3:11], x)
    mask = np.ones((14, 14), bool)
    mask[3:11, 3:11] = False
    assert np.all(big[:, mask] == 0)


@pytest.mark.parametrize(("side", "target"), [(8, 13), (8, 6)])
def test_pad_rejects_bad_sizes(side, target):
    with pytest.raises(ValueError, match="cannot centre"):
        pad_P(np.zeros((side, side)), target)


@pytest.mark.parametrize(("side", "target"), [(13, 8), (6, 8)])
def test_crop_rejects_bad_sizes(side, target):
    with pytest.raises(ValueError, match="cannot centre"):
        crop_N(np.zeros((side, side)), target)


def test_flatten_channels_is_group_major():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 5, 4))
    flat = flatten_channels(x)
    assert flat.shape == (12, 5, 5)
    for b in range(3):
        for c in range(4):
            np.testing.assert_array_equal(flat[b * 4 + c], x[b, :, :, c])
    np.testing.assert_array_equal(unflatten_channels(flat, 4), x)
    with pytest.raises(ValueError, match="divisible"):
        unflatten_channels(flat, 5)
