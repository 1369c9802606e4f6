"""Batched inference with a ``diffraction_to_obj`` model (api spec §3)."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["check_input_channels", "predict_objects"]


def check_input_channels(model: keras.Model, channels: int) -> None:
    """Raise the api-spec §3 ``ValueError`` when ``channels`` ≠ the model's ``C``."""
    expected = int(model.inputs[0].shape[-1])
    if int(channels) != expected:
        g = int(round(math.sqrt(expected)))
        raise ValueError(
            f"model was trained with gridsize={g} ({expected} channels) but the input has {int(channels)} "
            f"channels; set gridsize to {g}"
        )


def predict_objects(
    diffraction_to_obj: keras.Model,
    X_normalised: np.ndarray,
    positions: np.ndarray,
    intensity_scale: float,
    batch_size: int = 16,
) -> np.ndarray:
    """``trimmed_obj`` for normalised amplitudes ``X`` ``(B, N, N, C)`` and offsets
    ``positions`` ``(B, 1, 2, C)``; returns complex64 ``(B, N, N, 1)``.

    The network input is ``s·X`` computed in float32 (the product training used), with
    ``s`` the archived training intensity scale (api spec §7.3).  float64 inputs are cast.
    """
    x = np.asarray(X_normalised)
    pos = np.asarray(positions)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise ValueError(f"X must be (B, N, N, C) with square patterns; got shape {x.shape}")
    check_input_channels(diffraction_to_obj, x.shape[3])
    n_model = int(diffraction_to_obj.inputs[0].shape[1])
    if x.shape[1] != n_model:
        raise ValueError(f"model expects {n_model}×{n_model} patterns but the input has {x.shape[1]}×{x.shape[2]}")
    if pos.shape != (x.shape[0], 1, 2, x.shape[3]):
        raise ValueError(f"positions must have shape {(x.shape[0], 1, 2, x.shape[3])}; got {pos.shape}")
    scale = float(intensity_scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"intensity_scale must be a finite number > 0; got {intensity_scale!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    out = np.empty((x.shape[0], x.shape[1], x.shape[2], 1), dtype=np.complex64)
    s32 = np.float32(scale)
    for start in range(0, x.shape[0], int(batch_size)):
        stop = min(start + int(batch_size), x.shape[0])
        xb = x[start:stop].astype(np.float32) * s32
        pb = pos[start:stop].astype(np.float32)
        result = diffraction_to_obj.predict_on_batch([xb, pb])
        out[start:stop] = np.asarray(result).astype(np.complex64, copy=False)
    return out
