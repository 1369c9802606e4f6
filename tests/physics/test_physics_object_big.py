"""NumPy reference of the object_big merge / extraction and the physics pipeline (physics §5, §8)."""

import numpy as np
import pytest
from scipy.ndimage import shift as nd_shift

from ptychopinn_plugin.physics.geometry import canvas_size, central_window, pad_P
from ptychopinn_plugin.physics.object_big import (
    extract_from_canvas,
    merge_group_patches,
    relative_shifts,
    single_channel_canvas,
    trimmed_object,
)
from ptychopinn_plugin.physics.pipeline import forward_reference
from ptychopinn_plugin.physics.probe import normalise_probe
from ptychopinn_plugin.util.bilinear import extract_patches


def _complex(rng, shape, dtype=np.complex64):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _relative(positions):
    """positions (B, C, 2) [x, y] → coords_relative (B, 1, 2, C) = -(p - mean p)."""
    q = positions.mean(axis=1, keepdims=True)
    return np.moveaxis(-(positions - q), 2, 1)[:, None]


def _scipy_translate(img, dx, dy):
    """Independent T_d: SciPy order-1 shift with zero fill beyond the edges."""
    kw = dict(order=1, mode="grid-constant", cval=0.0)
    return nd_shift(img.real, (dy, dx), **kw) + 1j * nd_shift(img.imag, (dy, dx), **kw)


def test_relative_shifts_group_major_and_strict():
    r = np.arange(2 * 2 * 3, dtype=float).reshape(2, 1, 2, 3)
    flat = relative_shifts(r)
    for b in range(2):
        for c in range(3):
            np.testing.assert_array_equal(flat[b * 3 + c], r[b, 0, :, c])
    with pytest.raises(ValueError, match="2 groups but the patches have 3"):
        relative_shifts(r, batch=3)
    with pytest.raises(ValueError, match=r"\(B, 1, 2, C\)"):
        relative_shifts(r[:, :, :1])


def test_gridsize_one_closed_form():
    rng = np.random.default_rng(0)
    n, P = 16, canvas_size(16, 1)
    o = _complex(rng, (3, n, n, 1))
    u = merge_group_patches(o, np.zeros((3, 1, 2, 1)), P)
    w = central_window(n)
    np.testing.assert_allclose(u, pad_P(o[..., 0], P) / (pad_P(w, P) + 0.001), rtol=1e-6)
    np.testing.assert_allclose(trimmed_object(u, n)[..., 0], o[..., 0] / (w + 0.001), rtol=1e-6)
    assert trimmed_object(u, n).shape == (3, n, n, 1)


def test_fractional_merge_matches_independent_translation():
    rng = np.random.default_rng(1)
    n, g = 16, 2
    P = canvas_size(n, g)
    positions = rng.uniform(-3, 3, size=(3, g * g, 2)) + 30
    r = _relative(positions)
    o = _complex(rng, (3, n, n, g * g), np.complex128)
    u = merge_group_patches(o, r, P)
    w = pad_P(central_window(n, np.float64), P)
    for b in range(3):
        s = np.zeros((P, P), complex)
        k = np.zeros((P, P))
        for c in range(g * g):
            dx, dy = -r[b, 0, :, c]
            s += _scipy_translate(pad_P(o[b, :, :, c], P), dx, dy)
            k += _scipy_translate(w.astype(complex), dx, dy).real
        np.testing.assert_allclose(u[b], s / (k + 0.001), rtol=1e-9, atol=1e-9)
    u32 = merge_group_patches(o.astype(np.complex64), r, P)
    assert u32.dtype == np.complex64
    assert np.max(np.abs(u32 - u)) <= 1e-5 * np.max(np.abs(u))


def test_groups_are_never_merged_together():
    rng = np.random.default_rng(2)
    n, g, batch = 8, 2, 17  # B·C = 68 ≥ 64, the size at which the original mixed groups
    P = canvas_size(n, g)
    positions = rng.uniform(0, 4, size=(batch, g * g, 2))
    r = _relative(positions)
    o = _complex(rng, (batch, n, n, g * g))
    together = merge_group_patches(o, r, P)
    for b in range(batch):
        alone = merge_group_patches(o[b : b + 1], r[b : b + 1], P)[0]
        np.testing.assert_array_equal(together[b], alone)


def test_merge_places_members_at_their_positions_and_extraction_inverts_it():
    """Sign check: patches cut from one object at p_{b,c} re-assemble that object."""
    rng = np.random.default_rng(3)
    n, g = 16, 2
    P = canvas_size(n, g)
    obj = _complex(rng, (60, 60), np.complex128)
    q = np.array([30.0, 28.0])
    deltas = np.array([[-2, -1], [2, 1], [1, -2], [-1, 2]], dtype=float)  # zero mean
    p = q + deltas
    o = extract_patches(obj, p[:, 0], p[:, 1], n) * central_window(n, np.float64)
    o = np.moveaxis(o, 0, 2)[None]  # (1, N, N, C)
    r = _relative(p[None])
    u = merge_group_patches(o, r, P)[0]
    # brute force in object coordinates: canvas pixel (i, j) ↔ (q_y + i - P/2, q_x + j - P/2)
    cover = np.zeros((P, P))
    expected = np.zeros((P, P), complex)
    for i in range(P):
        for j in range(P):
            y, x = q[1] + i - P / 2, q[0] + j - P / 2
            cover[i, j] = sum(
                (pc[1] - n / 4 <= y < pc[1] + n / 4) and (pc[0] - n / 4 <= x < pc[0] + n / 4) for pc in p
            )
            expected[i, j] = obj[int(y), int(x)] * cover[i, j] / (cover[i, j] + 0.001)
    assert cover.max() == 4
    np.testing.assert_allclose(u, expected, rtol=1e-12, atol=1e-12)
    # extraction: channel c reads the canvas window centred on p_c (integer here: slicing)
    z = extract_from_canvas(u[None], r, n)
    padded = np.pad(u, n)
    for c in range(4):
        top = int(P / 2 + deltas[c, 1] - n / 2) + n
        left = int(P / 2 + deltas[c, 0] - n / 2) + n
        np.testing.assert_allclose(z[c], padded[top : top + n, left : left + n], rtol=1e-12, atol=1e-12)


def test_single_channel_canvas_and_errors():
    rng = np.random.default_rng(4)
    o = _complex(rng, (2, 8, 8, 1))
    np.testing.assert_array_equal(single_channel_canvas(o, 18), pad_P(o[..., 0], 18))
    with pytest.raises(ValueError, match="one object channel"):
        single_channel_canvas(np.zeros((2, 8, 8, 4), np.complex64), 18)
    with pytest.raises(ValueError, match="3 groups but the patches have 2"):
        merge_group_patches(o, np.zeros((3, 1, 2, 1)), 18)


def test_forward_reference_against_explicit_physics():
    rng = np.random.default_rng(5)
    n = 16
    probe = normalise_probe(_complex(rng, (n, n)))
    o = _complex(rng, (2, n, n, 1))
    w = 0.3
    out = forward_reference(o, np.zeros((2, 1, 2, 1)), probe, w, canvas_size=canvas_size(n, 1), object_big=False)
    f = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    for b in range(2):
        psi = (probe * o[b, :, :, 0]).astype(np.complex128)
        amp = np.roll(np.abs(f @ psi @ f.T) / n, (n // 2, n // 2), axis=(0, 1))
        np.testing.assert_allclose(out.pred_amp_scaled[b, :, :, 0], np.exp(w) * amp, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(out.pred_intensity, out.pred_amp_scaled**2, rtol=1e-6)
    np.testing.assert_array_equal(out.trimmed_obj, o)
    # object_big with g = 2: shapes, group-major channels and energy conservation
    g = 2
    pos = rng.uniform(0, 3, size=(2, 4, 2))
    o4 = _complex(rng, (2, n, n, 4))
    out4 = forward_reference(o4, _relative(pos), probe, 0.0, canvas_size=canvas_size(n, g))
    assert out4.pred_amp_scaled.shape == (2, n, n, 4) and out4.trimmed_obj.shape == (2, n, n, 1)
    energy = np.sum(np.abs(out4.illuminated.astype(np.complex128)) ** 2, axis=(1, 2)).reshape(2, 4)
    np.testing.assert_allclose(np.sum(out4.pred_intensity.astype(np.float64), axis=(1, 2)), energy, rtol=1e-5)
