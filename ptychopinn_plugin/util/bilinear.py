"""Bilinear translation and patch extraction on the integer pixel grid (NumPy).

This is the one reference implementation of the translation operator ``T_d`` of
physics spec §2.3, shared by ground-truth patch extraction (data spec §2.6), the
simulator, stitching and the backend parity tests.  Conventions:

* ``d = (dx, dy)``: dx along columns (x), dy along rows (y).
* ``(T_d I)[i, j] = I(i - dy, j - dx)`` with bilinear interpolation; every one of the
  four neighbours that falls outside the image contributes 0 ("per-corner zero fill").
  Integer shifts are therefore exact.
* Complex images are interpolated with real weights, which is the same as translating
  real and imaginary parts separately.

Because a translation uses one shift per image, the four bilinear weights are constant
over an image; the implementation gathers four integer-shifted copies with one padded
sentinel row/column standing for "outside".
"""

from __future__ import annotations

import numpy as np


def _axis_gather_indices(start: np.ndarray, length: int, size: int) -> np.ndarray:
    """Indices ``start[k] + arange(length)``, with out-of-range entries set to ``size``.

    ``size`` is the index of the zero sentinel appended to the padded image.
    """
    idx = start[:, None] + np.arange(length)[None, :]
    idx = np.where((idx >= 0) & (idx < size), idx, size)
    return idx


def sample_shifted(
    images: np.ndarray, row_start: np.ndarray, col_start: np.ndarray, out_shape: tuple[int, int]
) -> np.ndarray:
    """Sample ``out[k, i, j] = images[k](row_start[k] + i, col_start[k] + j)`` bilinearly.

    ``images``: ``(K, H, W)`` real or complex; ``row_start``/``col_start``: ``(K,)`` float
    source coordinates of output pixel ``(0, 0)``.  Returns ``(K, h, w)`` with the dtype
    of ``images`` (float inputs other than float64/complex128 keep their precision).
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (K, H, W); got shape {images.shape}")
    k, height, width = images.shape
    row_start = np.asarray(row_start, dtype=np.float64).reshape(-1)
    col_start = np.asarray(col_start, dtype=np.float64).reshape(-1)
    if row_start.shape[0] != k or col_start.shape[0] != k:
        raise ValueError(
            f"need exactly one shift per image: {k} images but {row_start.shape[0]} row and "
            f"{col_start.shape[0]} column offsets"
        )
    out_h, out_w = out_shape
    r0 = np.floor(row_start)
    c0 = np.floor(col_start)
    tr = (row_start - r0).astype(np.float64)
    tc = (col_start - c0).astype(np.float64)
    r0 = r0.astype(np.int64)
    c0 = c0.astype(np.int64)

    padded = np.zeros((k, height + 1, width + 1), dtype=images.dtype)
    padded[:, :height, :width] = images
    kk = np.arange(k)[:, None, None]
    rows_a = _axis_gather_indices(r0, out_h, height)[:, :, None]
    rows_b = _axis_gather_indices(r0 + 1, out_h, height)[:, :, None]
    cols_a = _axis_gather_indices(c0, out_w, width)[:, None, :]
    cols_b = _axis_gather_indices(c0 + 1, out_w, width)[:, None, :]

    real_dtype = np.float32 if images.dtype in (np.float32, np.complex64) else np.float64
    w_rr = (1.0 - tr).astype(real_dtype)[:, None, None]
    w_r1 = tr.astype(real_dtype)[:, None, None]
    w_cc = (1.0 - tc).astype(real_dtype)[:, None, None]
    w_c1 = tc.astype(real_dtype)[:, None, None]

    out = padded[kk, rows_a, cols_a] * (w_rr * w_cc)
    out += padded[kk, rows_a, cols_b] * (w_rr * w_c1)
    out += padded[kk, rows_b, cols_a] * (w_r1 * w_cc)
    out += padded[kk, rows_b, cols_b] * (w_r1 * w_c1)
    return out.astype(images.dtype, copy=False)


def translate(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Apply ``T_d`` to each image: content moves by ``+d``; ``shifts[k] = (dx, dy)``.

    ``images``: ``(K, H, W)``; ``shifts``: ``(K, 2)``.  Exactly one shift per image is
    required (a shorter list is an error, never cycled).
    """
    images = np.asarray(images)
    shifts = np.asarray(shifts, dtype=np.float64)
    if shifts.ndim != 2 or shifts.shape[1] != 2:
        raise ValueError(f"shifts must be (K, 2) as (dx, dy); got shape {shifts.shape}")
    if images.ndim != 3 or shifts.shape[0] != images.shape[0]:
        raise ValueError(
            f"need exactly one (dx, dy) shift per image: images {images.shape}, shifts {shifts.shape}"
        )
    return sample_shifted(images, -shifts[:, 1], -shifts[:, 0], images.shape[1:])


def extract_patches(
    image: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray, size: int, chunk: int = 4096
) -> np.ndarray:
    """Extract ``size×size`` patches centred on ``(x, y)`` from a 2-D image.

    Patch pixel ``(i, j)`` samples image coordinate ``(y + i - size/2, x + j - size/2)``
    (physics spec §2.1: pixel ``(size/2, size/2)`` sits on the position), bilinearly,
    with zeros outside the image (equivalent to the spec's ``size/2`` zero padding).
    Returns ``(K, size, size)`` in the image's dtype.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D; got shape {image.shape}")
    xcoords = np.asarray(xcoords, dtype=np.float64).reshape(-1)
    ycoords = np.asarray(ycoords, dtype=np.float64).reshape(-1)
    if xcoords.shape != ycoords.shape:
        raise ValueError(f"xcoords {xcoords.shape} and ycoords {ycoords.shape} differ in shape")
    half = size // 2
    out = np.empty((xcoords.shape[0], size, size), dtype=image.dtype)
    for start in range(0, xcoords.shape[0], chunk):
        stop = min(start + chunk, xcoords.shape[0])
        out[start:stop] = _extract_chunk(image, ycoords[start:stop] - half, xcoords[start:stop] - half, size)
    return out


def _extract_chunk(image: np.ndarray, row_start: np.ndarray, col_start: np.ndarray, size: int) -> np.ndarray:
    """Sample patches from one shared image without copying it once per patch."""
    height, width = image.shape
    padded = np.zeros((height + 1, width + 1), dtype=image.dtype)
    padded[:height, :width] = image
    r0 = np.floor(row_start)
    c0 = np.floor(col_start)
    real_dtype = np.float32 if image.dtype in (np.float32, np.complex64) else np.float64
    tr = (row_start - r0).astype(real_dtype)[:, None, None]
    tc = (col_start - c0).astype(real_dtype)[:, None, None]
    r0 = r0.astype(np.int64)
    c0 = c0.astype(np.int64)
    rows_a = _axis_gather_indices(r0, size, height)[:, :, None]
    rows_b = _axis_gather_indices(r0 + 1, size, height)[:, :, None]
    cols_a = _axis_gather_indices(c0, size, width)[:, None, :]
    cols_b = _axis_gather_indices(c0 + 1, size, width)[:, None, :]
    out = padded[rows_a, cols_a] * ((1 - tr) * (1 - tc))
    out += padded[rows_a, cols_b] * ((1 - tr) * tc)
    out += padded[rows_b, cols_a] * (tr * (1 - tc))
    out += padded[rows_b, cols_b] * (tr * tc)
    return out.astype(image.dtype, copy=False)
