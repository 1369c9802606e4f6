"""TF translation op vs the NumPy reference T_d (physics §2.3, util.bilinear)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf.translation import sample_shifted, translate  # noqa: E402
from ptychopinn_plugin.util import bilinear  # noqa: E402


def _images(k, h, w, seed=0, complex_=False):
    rng = np.random.default_rng(seed)
    img = rng.normal(size=(k, h, w)).astype(np.float32)
    if complex_:
        img = (img + 1j * rng.normal(size=(k, h, w))).astype(np.complex64)
    return img


def _close(a, b, rtol=1e-6):
    scale = np.max(np.abs(b))
    assert np.max(np.abs(np.asarray(a) - b)) <= rtol * scale + 1e-7


def test_integer_shifts_are_exact_and_match_reference():
    img = _images(6, 12, 10)
    shifts = np.array([[0, 0], [1, 0], [0, 1], [-3, 2], [5, -4], [20, 0]], dtype=np.float32)
    out = translate(tf.constant(img), tf.constant(shifts)).numpy()
    np.testing.assert_array_equal(out, bilinear.translate(img, shifts))
    # Closed form for an integer shift: content moves by +d, zero fill.
    expected = np.zeros_like(img[3])
    expected[2:, :7] = img[3][:-2, 3:]  # dx=-3 (left 3), dy=+2 (down 2)
    np.testing.assert_array_equal(out[3], expected)
    assert np.all(out[5] == 0)  # shifted completely out of the image


def test_fractional_shifts_match_reference():
    img = _images(32, 16, 16, seed=1)
    rng = np.random.default_rng(2)
    shifts = rng.uniform(-6, 6, size=(32, 2)).astype(np.float32)
    out = translate(tf.constant(img), tf.constant(shifts)).numpy()
    _close(out, bilinear.translate(img, shifts.astype(np.float64)))


def test_fractional_shift_closed_form_and_per_corner_zero_fill():
    img = np.zeros((1, 4, 4), np.float32)
    img[0, 0, 0] = 1.0
    out = translate(tf.constant(img), tf.constant([[0.25, 0.5]], tf.float32)).numpy()[0]
    # (T_d I)[i,j] = I(i-0.5, j-0.25): pixel (0,0) reads 0.5*0.75 of I[0,0] (other corners outside → 0)
    assert out[0, 0] == pytest.approx(0.5 * 0.75, rel=1e-6)
    assert out[1, 1] == pytest.approx(0.5 * 0.25, rel=1e-6)
    assert out[1, 0] == pytest.approx(0.5 * 0.75, rel=1e-6)
    assert out.sum() == pytest.approx(1.0, rel=1e-6)


def test_complex_images_translate_real_and_imaginary_parts():
    img = _images(8, 10, 12, seed=3, complex_=True)
    shifts = np.random.default_rng(4).uniform(-3, 3, size=(8, 2)).astype(np.float32)
    out = translate(tf.constant(img), tf.constant(shifts)).numpy()
    assert out.dtype == np.complex64
    _close(out, bilinear.translate(img, shifts.astype(np.float64)))
    _close(out.real, bilinear.translate(img.real, shifts.astype(np.float64)))


def test_sample_shifted_with_output_size_matches_reference():
    img = _images(5, 20, 20, seed=5)
    rng = np.random.default_rng(6)
    rows, cols = rng.uniform(-4, 8, size=5), rng.uniform(-4, 8, size=5)
    out = sample_shifted(tf.constant(img[..., None]), tf.constant(rows, tf.float32), tf.constant(cols, tf.float32), (12, 9))
    ref = bilinear.sample_shifted(img, rows.astype(np.float32), cols.astype(np.float32), (12, 9))
    _close(out.numpy()[..., 0], ref)


def test_one_shift_per_image_is_required():
    img = tf.constant(_images(4, 8, 8))
    with pytest.raises(ValueError, match="exactly one shift per image"):
        translate(img, tf.zeros((2, 2)))
    with pytest.raises(ValueError, match="shifts must be"):
        translate(img, tf.zeros((4, 3)))


def test_dynamic_batch_mismatch_fails_at_run_time():
    fn = tf.function(
        lambda x, s: translate(x, s),
        input_signature=[tf.TensorSpec((None, 8, 8), tf.float32), tf.TensorSpec((None, 2), tf.float32)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError):
        fn(tf.zeros((4, 8, 8)), tf.zeros((1, 2)))


def test_gradient_is_the_adjoint_of_the_translation():
    img = tf.constant(_images(3, 8, 8, seed=7))
    shifts = tf.constant([[0.3, -1.7], [2.0, 0.5], [-0.25, 0.75]], tf.float32)
    weights = tf.constant(_images(3, 8, 8, seed=8))
    with tf.GradientTape() as tape:
        tape.watch(img)
        loss = tf.reduce_sum(translate(img, shifts) * weights)
    grad = tape.gradient(loss, img).numpy()
    # <T x, w> = <x, T^T w>: check by finite probing with basis images
    basis = np.zeros((3, 8, 8), np.float32)
    basis[1, 3, 4] = 1.0
    probe_value = float(tf.reduce_sum(translate(tf.constant(basis), shifts) * weights))
    assert grad[1, 3, 4] == pytest.approx(probe_value, rel=1e-5)
