"""reassemble_position / stitch_patches (physics §10) and product placement (data §6.2)."""

import math

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from ptychopinn_plugin.physics.stitching import (
    PatchStitcher,
    place_in_product_frame,
    reassemble_position,
    stitch_patches,
)
from ptychopinn_plugin.util.bilinear import extract_patches, translate


def _complex(rng, shape, dtype=np.complex64):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def slow_reference(patches, offsets_xy, M):
    """§10 read literally: translate every zero-padded crop with T_{a_b} and sum."""
    n = patches.shape[1]
    q = np.asarray(offsets_xy, dtype=np.float64)
    com = q.mean(axis=0)
    a = q - com
    pad = math.ceil(np.max(np.abs(a)))
    pad += pad % 2
    lo = n // 2 - M // 2
    crops = patches[:, lo : lo + M, lo : lo + M].astype(np.complex128)
    num = translate(np.pad(crops, ((0, 0), (pad, pad), (pad, pad))), a).sum(axis=0)
    ones = np.pad(np.ones((len(q), M, M)), ((0, 0), (pad, pad), (pad, pad)))
    den = translate(ones, a).sum(axis=0)
    return (num / (den + 1e-9)).astype(np.complex64)[..., None], den, com, M + 2 * pad


def _assert_float32_close(actual, expected):
    scale = np.max(np.abs(expected))
    assert actual.shape == expected.shape and actual.dtype == np.complex64
    assert np.max(np.abs(actual - expected)) <= 2e-6 * scale


@pytest.mark.parametrize(
    ("kind", "M", "seed"),
    [("fractional", 20, 0), ("fractional", 2, 1), ("fractional", 32, 2), ("integer", 8, 3), ("grouped", 20, 4)],
)
def test_fast_scatter_equals_translated_padded_crops(kind, M, seed):
    rng = np.random.default_rng(seed)
    n, b = 32, 40
    if kind == "integer":
        q = rng.integers(0, 30, size=(b, 2)).astype(np.float64)
    elif kind == "fractional":
        q = rng.uniform(-15.0, 25.0, size=(b, 2))
    else:  # g > 1-like centres: means of 4 integer member positions (quarter pixels)
        q = rng.integers(0, 30, size=(b, 4, 2)).mean(axis=1)
    patches = _complex(rng, (b, n, n, 1))
    expected, den, com, P = slow_reference(patches[..., 0], q, M)
    result = stitch_patches(patches, q[:, None, :, None], M=M)
    _assert_float32_close(result.image, expected)
    assert result.canvas_size == P == result.image.shape[0]
    np.testing.assert_allclose(result.com_xy, com, rtol=0, atol=1e-12)
    assert result.geometry.pad % 2 == 0 and result.geometry.pad >= np.max(np.abs(q - com))
    # pixels no crop reaches are exactly zero
    assert np.all(result.image[den == 0] == 0)


def test_offset_layouts_dtypes_and_patch_layouts_agree():
    rng = np.random.default_rng(5)
    b, n = 25, 16
    q = rng.uniform(0, 12, size=(b, 2)).astype(np.float32)
    patches = _complex(rng, (b, n, n, 1))
    ref = reassemble_position(patches, q.astype(np.float64)[:, None, :, None], M=10)
    assert ref.dtype == np.complex64 and ref.ndim == 3 and ref.shape[2] == 1
    np.testing.assert_array_equal(reassemble_position(patches, q[:, None, :, None], M=10), ref)
    np.testing.assert_array_equal(reassemble_position(patches, q[:, None, None, :], M=10), ref)
    np.testing.assert_array_equal(reassemble_position(patches[..., 0], q[:, None, None, :], M=10), ref)
    # default M is 10
    np.testing.assert_array_equal(reassemble_position(patches, q[:, None, :, None]), ref)


@pytest.mark.parametrize("M", [3, 11, 0, 18, -2])
def test_invalid_crop_sizes_are_rejected(M):
    patches = np.zeros((2, 16, 16, 1), np.complex64)
    with pytest.raises(ValueError, match=f"M = {M} is invalid.*N = 16"):
        reassemble_position(patches, np.zeros((2, 1, 2, 1)), M=M)


def test_bad_shapes_are_rejected():
    patches = np.zeros((3, 16, 16, 1), np.complex64)
    with pytest.raises(ValueError, match="3 patches but global_offsets has 2"):
        reassemble_position(patches, np.zeros((2, 1, 2, 1)))
    with pytest.raises(ValueError, match=r"\(B, 1, 2, 1\) or \(B, 1, 1, 2\)"):
        reassemble_position(patches, np.zeros((3, 1, 2, 2)))
    with pytest.raises(ValueError, match="one channel"):
        reassemble_position(np.zeros((3, 16, 16, 4), np.complex64), np.zeros((3, 1, 2, 1)))


def test_uncovered_gap_is_exactly_zero():
    rng = np.random.default_rng(6)
    q = np.array([[0.3, 0.0], [0.0, 0.7], [40.2, 0.0], [40.0, 1.1]])
    patches = _complex(rng, (4, 16, 16, 1))
    result = stitch_patches(patches, q[:, None, :, None], M=8)
    image = result.image[..., 0]
    x = result.geometry.object_coordinate(np.arange(result.canvas_size), "x")
    gap = (x > 0.7 + 4 + 1) & (x < 40 - 4 - 1)
    assert gap.sum() > 10
    assert np.all(image[:, gap] == 0)
    # rows outside every crop's vertical reach are zero too
    y = result.geometry.object_coordinate(np.arange(result.canvas_size), "y")
    assert np.all(image[(y < -4 - 1) | (y > 1.1 + 4), :] == 0)


def test_streaming_equals_one_shot_and_counts_are_enforced():
    rng = np.random.default_rng(7)
    q = rng.uniform(0, 20, size=(30, 2))
    patches = _complex(rng, (30, 16, 16, 1))
    one_shot = stitch_patches(patches, q, M=12)
    streamer = PatchStitcher(q, N=16, M=12)
    for lo, hi in ((0, 7), (7, 8), (8, 30)):
        streamer.add(patches[lo:hi])
    np.testing.assert_allclose(streamer.result().image, one_shot.image, rtol=1e-6, atol=1e-7)
    partial = PatchStitcher(q, N=16, M=12)
    partial.add(patches[:5])
    with pytest.raises(ValueError, match="only 5 of 30"):
        partial.result()
    with pytest.raises(ValueError, match="received 35"):
        partial.add(patches)


def _interior_mask(geometry, positions, M):
    """Canvas pixels reached only by crops that interpolate there without their zero border."""
    k = np.arange(geometry.canvas_size)
    x = geometry.object_coordinate(k, "x")
    y = geometry.object_coordinate(k, "y")
    lo = positions - M / 2  # object coordinate of crop pixel 0, per axis
    hi = positions + M / 2 - 1
    eps = 1e-9
    in_x = (x[None, :] >= lo[:, 0:1] - eps) & (x[None, :] <= hi[:, 0:1] + eps)
    in_y = (y[None, :] >= lo[:, 1:2] - eps) & (y[None, :] <= hi[:, 1:2] + eps)
    near_x = (x[None, :] > lo[:, 0:1] - 1) & (x[None, :] < hi[:, 0:1] + 1)
    near_y = (y[None, :] > lo[:, 1:2] - 1) & (y[None, :] < hi[:, 1:2] + 1)
    exact = in_y[:, :, None] & in_x[:, None, :]
    touches = near_y[:, :, None] & near_x[:, None, :]
    return exact.any(axis=0) & ~(touches & ~exact).any(axis=0)


def test_extract_then_merge_integer_grid_reproduces_object_exactly():
    """Symmetric integer scan: com is an integer, the canvas is a copy of the object."""
    rng = np.random.default_rng(8)
    n, M = 32, 20
    obj = _complex(rng, (80, 90))
    xs, ys = np.meshgrid(np.arange(25, 66, 5), np.arange(22, 59, 4))
    pos = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    patches = extract_patches(obj, pos[:, 0], pos[:, 1], n)[..., None]
    result = stitch_patches(patches, pos[:, None, :, None], M=M)
    assert result.com_xy == (45.0, 40.0)
    x0, y0 = (int(v) for v in result.geometry.origin_xy)
    P = result.canvas_size
    inside = _interior_mask(result.geometry, pos, M)
    region = obj[y0 : y0 + P, x0 : x0 + P]
    assert inside.sum() > 0.6 * P * P
    np.testing.assert_allclose(result.image[..., 0][inside], region[inside], rtol=0, atol=2e-6)


def test_extract_then_merge_integer_positions_fractional_com():
    """Integer positions, fractional com: the canvas samples the object bilinearly at com + k - P/2."""
    rng = np.random.default_rng(9)
    n, M = 32, 16
    obj = _complex(rng, (90, 90), np.complex128)
    pos = rng.integers(30, 60, size=(40, 2)).astype(np.float64)
    patches = extract_patches(obj, pos[:, 0], pos[:, 1], n).astype(np.complex64)[..., None]
    result = stitch_patches(patches, pos[:, None, :, None], M=M)
    assert result.com_xy[0] % 1 != 0 or result.com_xy[1] % 1 != 0
    k = np.arange(result.canvas_size)
    yy, xx = np.meshgrid(result.geometry.object_coordinate(k, "y"), result.geometry.object_coordinate(k, "x"), indexing="ij")
    expected = map_coordinates(obj.real, [yy, xx], order=1) + 1j * map_coordinates(obj.imag, [yy, xx], order=1)
    inside = _interior_mask(result.geometry, pos, M)
    assert inside.sum() > 200
    np.testing.assert_allclose(result.image[..., 0][inside], expected[inside], rtol=0, atol=3e-6)


def test_extract_then_merge_fractional_positions_on_bilinear_object():
    """Fractional positions: exact for an object that bilinear interpolation reproduces."""
    rng = np.random.default_rng(10)
    n, M = 32, 20
    h = w = 100
    c = (rng.standard_normal(4) + 1j * rng.standard_normal(4)) * np.array([1, 1 / w, 1 / h, 1 / (h * w)])

    def f(x, y):
        return c[0] + c[1] * x + c[2] * y + c[3] * x * y

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    obj = f(xx, yy)
    pos = rng.uniform(n / 2 + 2, w - n / 2 - 3, size=(60, 2))
    patches = extract_patches(obj.astype(np.complex64), pos[:, 0], pos[:, 1], n)[..., None]
    result = stitch_patches(patches, pos[:, None, None, :], M=M)
    k = np.arange(result.canvas_size)
    gy, gx = np.meshgrid(result.geometry.object_coordinate(k, "y"), result.geometry.object_coordinate(k, "x"), indexing="ij")
    inside = _interior_mask(result.geometry, pos, M)
    assert inside.sum() > 1000
    expected = f(gx, gy)
    assert np.max(np.abs(result.image[..., 0][inside] - expected[inside])) <= 2e-6 * np.max(np.abs(expected))


def test_product_placement_matches_ptychodus_pixel_mapping():
    """A canvas pixel has the same world coordinate through input and output products."""
    com = (123.4, 77.25)
    H_in, W_in = 300, 256
    center_in = (1.5e-6, -2.0e-6)
    pw, ph = 5e-9, 7e-9
    cx, cy = place_in_product_frame(com, (H_in, W_in), center_in, (pw, ph))
    P = 64
    for k in (0.0, 10.0, 63.0):
        # object coordinate of canvas pixel k (§10 item 6) → metres via the input product
        x_obj = com[0] + k - P / 2
        y_obj = com[1] + k - P / 2
        x_m_in = (x_obj - (W_in - 1) / 2) * pw + center_in[0]
        y_m_in = (y_obj - (H_in - 1) / 2) * ph + center_in[1]
        # the same canvas pixel → metres via the output product (canvas is P × P)
        x_m_out = (k - (P - 1) / 2) * pw + cx
        y_m_out = (k - (P - 1) / 2) * ph + cy
        assert x_m_out == pytest.approx(x_m_in, abs=1e-18)
        assert y_m_out == pytest.approx(y_m_in, abs=1e-18)
    with pytest.raises(ValueError, match="pixel sizes"):
        place_in_product_frame(com, (H_in, W_in), center_in, (0.0, ph))


def test_internal_chunking_does_not_change_the_result(monkeypatch):
    import ptychopinn_plugin.physics.stitching as stitching

    rng = np.random.default_rng(11)
    q = rng.uniform(0, 20, size=(23, 2))
    patches = _complex(rng, (23, 16, 16, 1))
    whole = stitch_patches(patches, q, M=12).image
    monkeypatch.setattr(stitching, "_MIN_WORK_PATCHES", 1)
    np.testing.assert_allclose(stitch_patches(patches, q, M=12, chunk_size=5).image, whole, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="chunk_size"):
        stitch_patches(patches, q, M=12, chunk_size=0)


# ----------------------------------------------------------------------------- weighted stitching
def weighted_reference(patches, offsets_xy, M, weight):
    """Σ T(w·crop) / Σ T(w) read literally (the same translations as the §10 reference)."""
    n = patches.shape[1]
    q = np.asarray(offsets_xy, dtype=np.float64)
    a = q - q.mean(axis=0)
    pad = math.ceil(np.max(np.abs(a)))
    pad += pad % 2
    lo = n // 2 - M // 2
    crops = patches[:, lo : lo + M, lo : lo + M].astype(np.complex128) * weight
    num = translate(np.pad(crops, ((0, 0), (pad, pad), (pad, pad))), a).sum(axis=0)
    w = np.pad(np.broadcast_to(weight, crops.shape), ((0, 0), (pad, pad), (pad, pad)))
    den = translate(w, a).sum(axis=0)
    return (num / (den + 1e-9)).astype(np.complex64)[..., None]


@pytest.mark.parametrize("fractional", [False, True])
def test_weighted_stitch_is_the_weighted_average(fractional):
    from ptychopinn_plugin.physics.stitching import illumination_weight

    rng = np.random.default_rng(4)
    n, M = 32, 16
    patches = _complex(rng, (9, n, n))
    xy = rng.uniform(-6, 6, (9, 2))
    if not fractional:
        xy = np.round(xy)
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    probe = np.exp(-(xx**2 + yy**2) / 40.0) * np.exp(0.2j * xx)
    weight = illumination_weight(probe, M)
    assert weight.shape == (M, M) and weight.max() == 1.0 and weight.min() < 0.01
    got = stitch_patches(patches, xy, M=M, weight=weight).image
    _assert_float32_close(got, weighted_reference(patches, xy, M, weight))
    uniform = stitch_patches(patches, xy, M=M, weight=np.ones((M, M))).image
    np.testing.assert_allclose(uniform, stitch_patches(patches, xy, M=M).image, rtol=0, atol=1e-6)


def test_weight_must_match_the_crop_and_be_usable():
    patches = np.ones((2, 16, 16), np.complex64)
    xy = np.zeros((2, 2))
    for bad in (np.ones((8, 8)), -np.ones((10, 10)), np.zeros((10, 10)), np.full((10, 10), np.nan)):
        with pytest.raises(ValueError, match="stitch weight"):
            stitch_patches(patches, xy, M=10, weight=bad)
