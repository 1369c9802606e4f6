"""Explicit-gather translation T_d (physics §2.3) against the NumPy reference and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.translation import sample_shifted, translate
from ptychopinn_plugin.util import bilinear


def _integer_shift_reference(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Brute force: out[i, j] = image[i - dy, j - dx], zero outside."""
    h, w = image.shape
    out = np.zeros_like(image)
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if 0 <= si < h and 0 <= sj < w:
                out[i, j] = image[si, sj]
    return out


def test_integer_shifts_are_exact_and_move_content_by_plus_d():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(4, 9, 11)).astype(np.float32)
    shifts = np.array([[0, 0], [2, -3], [-4, 1], [11, 0]], dtype=np.float32)  # last: shifted out entirely
    out = translate(torch.from_numpy(images), torch.from_numpy(shifts)).numpy()
    for k in range(4):
        expected = _integer_shift_reference(images[k], int(shifts[k, 0]), int(shifts[k, 1]))
        np.testing.assert_array_equal(out[k], expected)
    assert not out[3].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fractional_shifts_match_numpy_reference(dtype):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(6, 16, 16)).astype(dtype)
    shifts = rng.uniform(-5.5, 5.5, size=(6, 2)).astype(dtype)
    out = translate(torch.from_numpy(images), torch.from_numpy(shifts)).numpy()
    ref = bilinear.translate(images, shifts)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert out.dtype == dtype
    assert np.max(np.abs(out - ref)) <= tol * np.max(np.abs(ref))


def test_half_pixel_shift_is_the_mean_of_neighbours():
    image = np.arange(25, dtype=np.float64).reshape(1, 5, 5)
    out = translate(torch.from_numpy(image), torch.tensor([[0.5, 0.0]], dtype=torch.float64)).numpy()[0]
    # (T_d I)[i, j] = I(i, j - 0.5) = (I[i, j-1] + I[i, j]) / 2 for j >= 1; j = 0 has one corner outside.
    np.testing.assert_allclose(out[:, 1:], (image[0, :, :-1] + image[0, :, 1:]) / 2)
    np.testing.assert_allclose(out[:, 0], image[0, :, 0] / 2)


def test_complex_images_translate_real_and_imaginary_parts():
    rng = np.random.default_rng(2)
    images = (rng.normal(size=(3, 12, 12)) + 1j * rng.normal(size=(3, 12, 12))).astype(np.complex64)
    shifts = rng.uniform(-3, 3, size=(3, 2)).astype(np.float32)
    out = translate(torch.from_numpy(images), torch.from_numpy(shifts)).numpy()
    assert out.dtype == np.complex64
    ref = bilinear.translate(images, shifts)
    assert np.max(np.abs(out - ref)) <= 1e-6 * np.max(np.abs(ref))


def test_exactly_one_offset_per_image_or_error():
    images = torch.zeros(4, 8, 8)
    with pytest.raises(ValueError, match="one"):
        translate(images, torch.zeros(2, 2))  # the original silently cycled a shorter list
    with pytest.raises(ValueError, match="one shift per image"):
        sample_shifted(images[:, None], torch.zeros(3), torch.zeros(4), (8, 8))
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        translate(images, torch.zeros(4, 3))


def test_sample_shifted_fuses_pad_and_crop():
    """Sampling a small image onto a larger grid equals padding then translating."""
    rng = np.random.default_rng(3)
    small = rng.normal(size=(2, 8, 8))
    shifts = rng.uniform(-2, 2, size=(2, 2))
    margin = 3
    fused = sample_shifted(
        torch.from_numpy(small)[:, None], torch.from_numpy(-shifts[:, 1] - margin),
        torch.from_numpy(-shifts[:, 0] - margin), (14, 14),
    ).numpy()[:, 0]
    ref = bilinear.translate(np.pad(small, ((0, 0), (margin, margin), (margin, margin))), shifts)
    np.testing.assert_allclose(fused, ref, atol=1e-12)


def test_gradient_is_the_adjoint_of_the_translation():
    """<T_d x, y> = <x, T_d^T y>: backprop through the gather gives the transpose operator."""
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.normal(size=(2, 10, 10)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(2, 10, 10)))
    shifts = torch.tensor(rng.uniform(-2, 2, size=(2, 2)))
    (translate(x, shifts) * y).sum().backward()
    # Build the dense operator for image 0 and compare its transpose applied to y.
    basis = torch.eye(100, dtype=torch.float64).reshape(100, 10, 10)
    columns = translate(basis, shifts[:1].expand(100, 2)).reshape(100, 100)  # row k = T(e_k)
    expected = (columns @ y[0].reshape(100)).reshape(10, 10)
    np.testing.assert_allclose(x.grad[0].numpy(), expected.numpy(), atol=1e-12)
