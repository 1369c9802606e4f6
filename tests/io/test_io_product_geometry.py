"""Geometry of products (data spec §6.2, §6.3), checked against independent computations.

The key check builds an object whose value is a known *linear* function of the metre
coordinates ``g(x_m, y_m)``.  Bilinear extraction, bilinear stitching (at pixels fully
inside every contributing crop) and exact placement all reproduce a linear function
exactly, so after placing the canvas with §6.2 every canvas pixel must hold ``g`` at the
metre coordinate Ptychodus assigns to it: ``x = center_x_out + pw·(k − (P − 1)/2)``.  Any
error in the centre formula (e.g. the original's "keep the input centre") shifts the
sampled coordinates and is caught far above float precision.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptychopinn_plugin.io.product_convert import (
    PixelFrame,
    positions_px,
    raw_data_to_product,
    reconstruction_to_product,
)
from ptychopinn_plugin.io.product_model import Product
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.physics.stitching import stitch_patches
from ptychopinn_plugin.util.bilinear import extract_patches

H_IN, W_IN = 60, 74
PW, PH = 1.0e-8, 1.6e-8
CX_IN, CY_IN = 2.3e-7, -4.1e-7
N, CROP = 16, 10
# g(x, y) = A + BX·(x − X0)/PW + BY·(y − Y0)/PH: a complex plane in the metre coordinates.
A, BX, BY = 0.8 + 0.3j, 0.013 - 0.021j, -0.017 + 0.009j
X0, Y0 = 1.0e-7, -3.0e-7


def g(x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    return A + BX * (x_m - X0) / PW + BY * (y_m - Y0) / PH


def ptychodus_pixel_to_metres(k: np.ndarray, center: float, pixel: float, size: int) -> np.ndarray:
    """Ptychodus 1.7 pixel-centre mapping, written out independently of the code under test."""
    return center + pixel * (k - (size - 1) / 2.0)


def _object_in() -> np.ndarray:
    rows, cols = np.arange(H_IN), np.arange(W_IN)
    x_m = ptychodus_pixel_to_metres(cols, CX_IN, PW, W_IN)[None, :]
    y_m = ptychodus_pixel_to_metres(rows, CY_IN, PH, H_IN)[:, None]
    return g(x_m, y_m).astype(np.complex64)


def _product(x_px: np.ndarray, y_px: np.ndarray) -> Product:
    """A product whose positions (metres) are the given object pixels under Ptychodus's mapping."""
    m = x_px.shape[0]
    return Product(
        name="geom", comments="input", detector_object_distance_m=1.0, photon_energy_eV=9000.0,
        probe_position_indexes=np.arange(m),
        probe_position_x_m=ptychodus_pixel_to_metres(x_px, CX_IN, PW, W_IN),
        probe_position_y_m=ptychodus_pixel_to_metres(y_px, CY_IN, PH, H_IN),
        probe=np.ones((N, N), dtype=np.complex64), object=_object_in(),
        object_center_x_m=CX_IN, object_center_y_m=CY_IN, object_pixel_width_m=PW, object_pixel_height_m=PH,
        probe_photon_counts=np.full(m, 7.0), opr_weights=np.ones((m, 1)), loss_values=[9.0, 8.0],
        far_field=True,
    )


def _clean_mask(x_px: np.ndarray, y_px: np.ndarray, com: tuple[float, float], pad: int, P: int):
    """``(clean, touched)``: canvas pixels that receive, from every crop touching them, only
    full-weight bilinear pairs; and pixels that any crop reaches at all.

    Physics §10 translates each zero-padded ``M×M`` crop by ``a = q − com``: crop column ``j``
    lands at ``pad + a_x + j``.  A canvas column strictly between two landed crop columns (or
    exactly on one) averages them to its own coordinate; a column just outside the crop
    (landed edge ± less than one pixel) mixes in the zero fill and is excluded.
    """
    k = np.arange(P)

    def axis(a: float):
        start = pad + a
        inside = (k >= start) & (k <= start + CROP - 1)
        touched = (k > start - 1) & (k < start + CROP)
        return inside, touched

    clean = np.ones((P, P), dtype=bool)
    covered = np.zeros((P, P), dtype=bool)
    touched_any = np.zeros((P, P), dtype=bool)
    for qx, qy in zip(x_px, y_px):
        in_c, touch_c = axis(qx - com[0])
        in_r, touch_r = axis(qy - com[1])
        touched = touch_r[:, None] & touch_c[None, :]
        inside = in_r[:, None] & in_c[None, :]
        clean &= ~(touched & ~inside)
        covered |= inside
        touched_any |= touched
    return clean & covered, touched_any


@pytest.mark.parametrize("layout", ["common-fraction", "random-fraction"])
def test_placement_maps_canvas_pixels_to_the_right_metres(layout):
    rng = np.random.default_rng(5)
    if layout == "common-fraction":  # every a_b integral: stitching is a pure average of exact samples
        gx, gy = np.meshgrid(np.arange(5) * 4.0, np.arange(4) * 5.0)
        x_true, y_true = (22.37 + gx).ravel(), (17.61 + gy).ravel()
    else:
        x_true = rng.uniform(20.0, 45.0, 25)
        y_true = rng.uniform(16.0, 36.0, 25)
    product = _product(x_true, y_true)

    # §6.3: metres → object pixels, then patches of the known object at those pixels.
    x_px, y_px = positions_px(product)
    np.testing.assert_allclose(x_px, x_true, rtol=0, atol=1e-9)
    np.testing.assert_allclose(y_px, y_true, rtol=0, atol=1e-9)
    patches = extract_patches(product.object[0], x_px, y_px, N)
    offsets = np.stack([x_px, y_px], axis=1)[:, None, :, None]  # (B, 1, 2, 1)
    stitched = stitch_patches(patches[..., None], offsets, M=CROP)

    out = reconstruction_to_product(product, stitched, comments_note="ptychopinn test, backend=none")
    P = stitched.canvas_size
    assert out.object.shape == (1, P, P)
    canvas = out.object[0]

    # Independent check: Ptychodus's mapping with the NEW centre and (P − 1)/2.
    k = np.arange(P, dtype=np.float64)
    x_m = ptychodus_pixel_to_metres(k, out.object_center_x_m, out.object_pixel_width_m, P)[None, :]
    y_m = ptychodus_pixel_to_metres(k, out.object_center_y_m, out.object_pixel_height_m, P)[:, None]
    expected = g(x_m, y_m)
    mask, touched = _clean_mask(x_px, y_px, stitched.com_xy, stitched.geometry.pad, P)
    # a meaningful part of the canvas is checked (random fractions leave crop edges everywhere)
    assert mask.sum() > (0.5 if layout == "common-fraction" else 0.15) * P * P
    scale = float(np.max(np.abs(expected[mask])))
    np.testing.assert_allclose(canvas[mask], expected[mask], rtol=0, atol=2e-6 * scale)

    # A half-pixel centre error would be ≥ |BX|/2 ≈ 0.012 off: far above the tolerance.
    assert 0.5 * abs(BX) > 1000 * 2e-6 * scale
    # The original's rule (input centre kept) is visibly wrong for this off-centre scan.
    x_wrong = ptychodus_pixel_to_metres(k, CX_IN, PW, P)[None, :]
    assert np.max(np.abs(g(x_wrong, y_m)[mask] - canvas[mask])) > 0.1

    # Pixels no crop reaches are exactly 0 (there are some: the scan is not a full square).
    assert (~touched).sum() > 0 and np.all(canvas[~touched] == 0)


def test_positions_land_on_patch_centres_of_the_canvas():
    """After §6.2, positions_px of the output equal q − com + P/2 (where each patch sits)."""
    rng = np.random.default_rng(9)
    x_true, y_true = rng.uniform(20, 50, 12), rng.uniform(18, 40, 12)
    product = _product(x_true, y_true)
    image = np.ones((31, 31), dtype=np.complex64)
    com = (float(np.mean(x_true)) + 0.25, float(np.mean(y_true)) - 0.5)  # any com works, not only the mean
    out = reconstruction_to_product(product, (image, com), comments_note=None)
    x_out, y_out = positions_px(out)
    np.testing.assert_allclose(x_out, x_true - com[0] + 31 / 2, atol=1e-9)
    np.testing.assert_allclose(y_out, y_true - com[1] + 31 / 2, atol=1e-9)


def test_reconstruction_copies_everything_else(make_product):
    product = make_product()
    note = "ptychopinn 1.2.3 reconstruction, backend=pytorch, model archive sha256=abc"
    out = reconstruction_to_product(product, (np.ones((20, 20, 1)), (10.0, 12.0)), comments_note=note,
                                    losses=[0.5, 0.25])
    for name in ("probe_position_indexes", "probe_position_x_m", "probe_position_y_m", "probe_photon_counts",
                 "probe", "opr_weights"):
        np.testing.assert_array_equal(getattr(out, name), getattr(product, name))
    for name in ("name", "detector_object_distance_m", "photon_energy_eV", "exposure_time_s", "probe_photon_count",
                 "mass_attenuation_m2_per_kg", "tomography_angle_deg", "focus_object_distance_m", "tilt_angle_deg",
                 "far_field", "polarization", "probe_pixel_width_m", "probe_pixel_height_m",
                 "object_pixel_width_m", "object_pixel_height_m"):
        assert getattr(out, name) == getattr(product, name), name
    assert out.comments == product.comments + "\n" + note
    assert out.object.shape == (1, 20, 20) and out.object_layer_spacing_m.shape == (0,)
    np.testing.assert_array_equal(out.loss_values, [0.5, 0.25])
    np.testing.assert_array_equal(out.loss_epochs, [0, 1])
    # closed form of §6.2 for this input (H, W) = (40, 52)
    assert math.isclose(out.object_center_x_m, product.object_center_x_m + 1e-8 * (10.0 - 26.0), rel_tol=1e-12)
    assert math.isclose(out.object_center_y_m, product.object_center_y_m + 1.25e-8 * (12.0 - 20.0), rel_tol=1e-12)
    with pytest.raises(ValueError, match="single line"):
        reconstruction_to_product(product, (np.ones((4, 4)), (1.0, 1.0)), comments_note="two\nlines")


def test_frame_inverse_and_dataset_export_geometry():
    frame = PixelFrame(1e-6, -2e-6, 2e-8, 3e-8, 12.5, 7.0)
    x, y = frame.to_metres(np.array([0.0, 12.5, 30.25]), np.array([7.0, 1.0, -3.5]))
    np.testing.assert_allclose(x, [1e-6 - 12.5 * 2e-8, 1e-6, 1e-6 + 17.75 * 2e-8], rtol=1e-14)
    back = frame.to_pixels(x, y)
    np.testing.assert_allclose(back[0], [0.0, 12.5, 30.25], atol=1e-9)
    np.testing.assert_allclose(back[1], [7.0, 1.0, -3.5], atol=1e-9)

    # A dataset exported with objectGuess as the object: positions_px must give xcoords back.
    rng = np.random.default_rng(2)
    obj = rng.normal(size=(30, 44)).astype(np.complex64)
    xs, ys = rng.uniform(8, 36, 9), rng.uniform(8, 22, 9)
    raw = RawData.from_coords_without_pc(xs, ys, rng.uniform(0.1, 1, (9, 16, 16)), np.ones((16, 16)),
                                         None, obj)
    product = raw_data_to_product(raw, pixel_size_m=(2e-8, 5e-8), center_m=(1e-6, 0.0))
    assert product.object_center_m == (1e-6, 0.0) and product.object_pixel_size_m == (2e-8, 5e-8)
    x_px, y_px = positions_px(product)
    np.testing.assert_allclose(x_px, xs, atol=1e-9)
    np.testing.assert_allclose(y_px, ys, atol=1e-9)
    # … and with a stitched canvas: positions land on the patch centres q − com + P/2.
    com = (float(xs.mean()), float(ys.mean()))
    canvas_product = raw_data_to_product(raw, (np.ones((24, 24)), com), pixel_size_m=2e-8)
    x_px, y_px = positions_px(canvas_product)
    np.testing.assert_allclose(x_px, xs - com[0] + 12, atol=1e-9)
    np.testing.assert_allclose(y_px, ys - com[1] + 12, atol=1e-9)
