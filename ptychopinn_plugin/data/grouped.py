"""Assembly of the grouped dictionary (data spec §2.3–§2.6).

Given ``nn_indices`` from :mod:`ptychopinn_plugin.data.grouping`, gathers the member
patterns, coordinates and ground truth into channels-last arrays with exactly the
keys, shapes and dtypes of the §2.3 table.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from ptychopinn_plugin.data.ground_truth import extract_ground_truth
from ptychopinn_plugin.data.normalisation import normalisation_factor

if TYPE_CHECKING:
    from ptychopinn_plugin.data.raw_data import RawData

logger = logging.getLogger(__name__)

GROUPED_KEYS = (
    "diffraction", "X_full", "Y", "coords_nn", "coords_offsets", "coords_relative",
    "coords_start_nn", "coords_start_offsets", "coords_start_relative", "nn_indices", "objectGuess",
)
"""Keys always present; ``sample_indices`` is added only when the RawData carries it."""


def group_coordinates(x: np.ndarray, y: np.ndarray, nn_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coords_nn, coords_offsets, coords_relative)`` in float64 (data §2.3, physics §2.2).

    ``coords_nn[b, 0, 0, c] = x[nn[b, c]]``, ``[..., 1, c] = y``; offsets are the group
    means; ``coords_relative = −(coords_nn − coords_offsets)`` (local_offset_sign = −1).
    """
    nn = np.asarray(nn_indices)
    coords_nn = np.stack([np.asarray(x, dtype=np.float64)[nn], np.asarray(y, dtype=np.float64)[nn]],
                         axis=1)[:, None, :, :]
    coords_offsets = np.mean(coords_nn, axis=3, keepdims=True)
    coords_relative = -(coords_nn - coords_offsets)
    return coords_nn, coords_offsets, coords_relative


def _gather_channels_last(source: np.ndarray, nn: np.ndarray, dtype: type) -> np.ndarray:
    """``out[b, :, :, c] = source[nn[b, c]]``, gathered in chunks of groups.

    Chunking bounds the temporary ``(b, C, N, N)`` copy; the transpose to channels-last
    happens while writing each chunk.
    """
    b, c = nn.shape
    m, h, w = source.shape
    out = np.empty((b, h, w, c), dtype=dtype)
    out_flat = out.reshape(b, h * w, c)
    src_flat = source.reshape(m, h * w)
    step = max(1, (1 << 22) // max(1, h * w * c))
    for start in range(0, b, step):
        out_flat[start:start + step] = src_flat[nn[start:start + step]].transpose(0, 2, 1)
    return out


def build_grouped_dict(raw: "RawData", N: int, nn_indices: np.ndarray) -> dict[str, Any]:
    """The §2.3 dictionary for the groups ``nn_indices`` ``(B, C)`` of ``raw``."""
    nn = np.asarray(nn_indices, dtype=np.int64)
    if nn.ndim != 2:
        raise ValueError(f"nn_indices must be (B, C); got shape {nn.shape}")
    if raw.diff3d is not None:
        n_data = int(raw.diff3d.shape[1])
        if int(N) != n_data:
            raise ValueError(f"N = {N} does not match the diffraction patterns, which are {n_data}×{n_data}")
        diffraction = _gather_channels_last(raw.diff3d, nn, np.float32)
        factor = normalisation_factor(diffraction, int(N))
        x_full = diffraction * np.float32(factor)
        logger.debug("normalisation factor f = %g over %d groups", float(factor), nn.shape[0])
    else:
        diffraction = None
        x_full = None

    coords_nn, coords_offsets, coords_relative = group_coordinates(raw.xcoords, raw.ycoords, nn)
    start_nn, start_offsets, start_relative = group_coordinates(raw.xcoords_start, raw.ycoords_start, nn)

    if raw.Y is not None:
        y_patches = _gather_channels_last(raw.Y, nn, np.complex64)
    elif raw.objectGuess is not None:
        y_patches = extract_ground_truth(raw.objectGuess, coords_nn, int(N))
    else:
        y_patches = None

    grouped: dict[str, Any] = {
        "diffraction": diffraction,
        "X_full": x_full,
        "Y": y_patches,
        "coords_nn": coords_nn,
        "coords_offsets": coords_offsets,
        "coords_relative": coords_relative,
        "coords_start_nn": start_nn,
        "coords_start_offsets": start_offsets,
        "coords_start_relative": start_relative,
        "nn_indices": nn,
        "objectGuess": raw.objectGuess,
    }
    if raw.sample_indices is not None:
        grouped["sample_indices"] = raw.sample_indices
    return grouped
