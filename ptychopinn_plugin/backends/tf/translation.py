"""The translation operator ``T_d`` of physics §2.3 in TensorFlow (explicit gather).

``(T_d I)[i, j] = I(i − dy, j − dx)`` with bilinear interpolation on the integer grid;
each of the four bilinear neighbours that falls outside the image contributes 0
("per-corner zero fill"), so integer shifts are exact.  This mirrors the NumPy
reference :mod:`ptychopinn_plugin.util.bilinear` line by line: the image gets one
zero sentinel row and column appended, out-of-range indices point at the sentinel,
and the four corners are gathered with per-image integer offsets.  Because there is
exactly one shift per image, the bilinear weights are per-image scalars.

The general primitive is :func:`sample_shifted`, which also lets the physics layers
fuse "pad to the canvas, then translate" and "translate, then crop" into one gather
(identical results, see :mod:`.physics_layers`).  A shorter shift list than images is
an error, never cycled (findings TF-XLA-BATCH-BROADCAST-001,
TORCH-GS2-POSITION-OFFSETS-001).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["sample_shifted", "translate", "translate_complex"]


def _check_one_per_image(images: tf.Tensor, starts: tf.Tensor, what: str) -> list:
    """Static check when shapes are known; a runtime assertion otherwise."""
    n_img = images.shape[0]
    n_off = starts.shape[0]
    if n_img is not None and n_off is not None:
        if n_img != n_off:
            raise ValueError(
                f"{what}: need exactly one shift per image: {n_img} images but {n_off} shifts"
            )
        return []
    return [
        tf.debugging.assert_equal(
            tf.shape(images)[0],
            tf.shape(starts)[0],
            message=f"{what}: need exactly one shift per image (images vs shifts)",
        )
    ]


def _gather_indices(start: tf.Tensor, length: int, size: tf.Tensor) -> tf.Tensor:
    """``start[k] + arange(length)`` with out-of-range entries replaced by ``size``."""
    idx = start[:, None] + tf.range(length, dtype=tf.int32)[None, :]
    return tf.where((idx >= 0) & (idx < size), idx, tf.fill(tf.shape(idx), size))


def sample_shifted(
    images: tf.Tensor, row_start: tf.Tensor, col_start: tf.Tensor, out_shape: tuple[int, int]
) -> tf.Tensor:
    """``out[k, i, j, :] = images[k](row_start[k] + i, col_start[k] + j, :)``, bilinearly.

    ``images``: real ``(K, H, W, D)`` (the trailing axis is carried along, e.g. real and
    imaginary parts); ``row_start``/``col_start``: ``(K,)`` source coordinates of output
    pixel ``(0, 0)``.  Returns ``(K, out_h, out_w, D)`` in the images' dtype.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"sample_shifted expects images of shape (K, H, W, D); got {images.shape}")
    if images.dtype.is_complex:
        raise ValueError("sample_shifted works on real tensors; use translate_complex for complex images")
    dtype = images.dtype
    row_start = tf.reshape(tf.cast(row_start, dtype), [-1])
    col_start = tf.reshape(tf.cast(col_start, dtype), [-1])
    deps = _check_one_per_image(images, row_start, "sample_shifted") + _check_one_per_image(
        images, col_start, "sample_shifted"
    )
    with tf.control_dependencies(deps):
        out_h, out_w = int(out_shape[0]), int(out_shape[1])
        shape = tf.shape(images)
        height, width = shape[1], shape[2]

        r0f = tf.floor(row_start)
        c0f = tf.floor(col_start)
        tr = row_start - r0f
        tc = col_start - c0f
        r0 = tf.cast(r0f, tf.int32)
        c0 = tf.cast(c0f, tf.int32)

        # One zero sentinel row and column: index H / W means "outside the image".
        padded = tf.pad(images, [[0, 0], [0, 1], [0, 1], [0, 0]])
        rows_a = _gather_indices(r0, out_h, height)
        rows_b = _gather_indices(r0 + 1, out_h, height)
        cols_a = _gather_indices(c0, out_w, width)
        cols_b = _gather_indices(c0 + 1, out_w, width)

        top = tf.gather(padded, rows_a, axis=1, batch_dims=1)  # (K, out_h, W+1, D)
        bottom = tf.gather(padded, rows_b, axis=1, batch_dims=1)

        def weight(w: tf.Tensor) -> tf.Tensor:
            return w[:, None, None, None]

        w_rr, w_r1 = weight(1.0 - tr), weight(tr)
        w_cc, w_c1 = weight(1.0 - tc), weight(tc)
        out = tf.gather(top, cols_a, axis=2, batch_dims=1) * (w_rr * w_cc)
        out += tf.gather(top, cols_b, axis=2, batch_dims=1) * (w_rr * w_c1)
        out += tf.gather(bottom, cols_a, axis=2, batch_dims=1) * (w_r1 * w_cc)
        out += tf.gather(bottom, cols_b, axis=2, batch_dims=1) * (w_r1 * w_c1)
        return out


def _split_shifts(shifts: tf.Tensor, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
    shifts = tf.convert_to_tensor(shifts)
    if shifts.shape.rank != 2 or (shifts.shape[1] is not None and shifts.shape[1] != 2):
        raise ValueError(f"shifts must be (K, 2) as (dx, dy); got shape {shifts.shape}")
    shifts = tf.cast(shifts, dtype)
    return shifts[:, 0], shifts[:, 1]


def translate(images: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """``T_d`` for real images ``(K, H, W)`` or ``(K, H, W, D)``; ``shifts[k] = (dx, dy)``.

    Content moves by ``+d``.  Output has the input's shape.
    """
    images = tf.convert_to_tensor(images)
    if images.dtype.is_complex:
        return translate_complex(images, shifts)
    squeeze = images.shape.rank == 3
    if squeeze:
        images = images[..., None]
    dx, dy = _split_shifts(shifts, images.dtype)
    out = sample_shifted(images, -dy, -dx, (images.shape[1], images.shape[2]))
    return out[..., 0] if squeeze else out


def translate_complex(images: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """``T_d`` for complex images ``(K, H, W)``: real and imaginary parts separately."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 3:
        raise ValueError(f"translate_complex expects (K, H, W); got shape {images.shape}")
    stacked = tf.stack([tf.math.real(images), tf.math.imag(images)], axis=-1)
    moved = translate(stacked, shifts)
    return tf.complex(moved[..., 0], moved[..., 1])
