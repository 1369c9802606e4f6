"""Batched inference with a torch ``diffraction_to_obj`` (api spec §3), NumPy in and out.

Takes the same channels-last NumPy arrays as the TF backend's ``predict_objects`` and
returns the same ``(B, N, N, 1)`` complex64 result, so the workflow layer treats both
backends alike; the permutations are those of data §3.2 (no sign changes).
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from .models import channel_mismatch_message, model_channels

logger = logging.getLogger(__name__)

__all__ = ["INFERENCE_PRECISIONS", "check_input_channels", "inference_autocast", "predict_objects", "predict_outputs",
           "model_device"]

INFERENCE_PRECISIONS = ("auto", "32-true", "bf16-mixed")


def check_input_channels(model: nn.Module, channels: int) -> None:
    """Raise the api-spec §3 ``ValueError`` when ``channels`` ≠ the model's ``C``."""
    expected = model_channels(model)
    if int(channels) != expected:
        raise ValueError(channel_mismatch_message(expected, channels))


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a parameterless module)."""
    for param in model.parameters():
        return param.device
    return torch.device("cpu")


def _check_inputs(model: nn.Module, X_normalised: np.ndarray, positions: np.ndarray, intensity_scale: float,
                  batch_size: int) -> tuple[np.ndarray, np.ndarray, float]:
    x = np.asarray(X_normalised)
    pos = np.asarray(positions)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise ValueError(f"X must be (B, N, N, C) with square patterns; got shape {x.shape}")
    check_input_channels(model, x.shape[3])
    n_model = int(getattr(model, "core", model).N)
    if x.shape[1] != n_model:
        raise ValueError(f"model expects {n_model}×{n_model} patterns but the input has {x.shape[1]}×{x.shape[2]}")
    if pos.shape != (x.shape[0], 1, 2, x.shape[3]):
        raise ValueError(f"positions must have shape {(x.shape[0], 1, 2, x.shape[3])}; got {pos.shape}")
    scale = float(intensity_scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"intensity_scale must be a finite number > 0; got {intensity_scale!r}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    return x, pos, scale


def inference_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of an inference ``precision`` on ``device``.

    ``'auto'`` follows the training rule (:func:`.execution.resolve_precision`): bf16 where
    the device computes it natively — measured on a 2-core AVX512-BF16 CPU, end-to-end
    reconstruction at N = 64 ran 2.0× faster (``benchmarks/bench_speed.py``).  The physics
    inside the model (merge, FFT) disables autocast itself and stays float32, and the
    outputs are cast to complex64 either way.
    """
    from .execution import resolve_precision

    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"inference precision = {precision!r} is invalid; allowed: one of {INFERENCE_PRECISIONS}")
    resolved, _ = resolve_precision(precision, device.type)
    if resolved == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batches(model: nn.Module, x: np.ndarray, pos: np.ndarray, scale: float, batch_size: int,
             device: Optional[Union[str, torch.device]], precision: str = "32-true"):
    """Yield ``(start, stop, model outputs)`` per batch, in eval mode, on ``device``."""
    target = torch.device(device) if device is not None else model_device(model)
    if device is not None:
        model.to(target)
    was_training = model.training
    model.eval()
    s32 = torch.tensor(np.float32(scale), device=target)
    autocast = inference_autocast(precision, target)
    try:
        with torch.inference_mode(), autocast:
            for start in range(0, x.shape[0], int(batch_size)):
                stop = min(start + int(batch_size), x.shape[0])
                xb = torch.from_numpy(np.ascontiguousarray(x[start:stop].transpose(0, 3, 1, 2), dtype=np.float32))
                pb = torch.from_numpy(np.ascontiguousarray(pos[start:stop].transpose(0, 3, 1, 2), dtype=np.float32))
                yield start, stop, model(xb.to(target), pb.to(target), s32)
    finally:
        model.train(was_training)


def predict_objects(
    diffraction_to_obj: nn.Module,
    X_normalised: np.ndarray,
    positions: np.ndarray,
    intensity_scale: float,
    batch_size: int = 16,
    *,
    device: Optional[Union[str, torch.device]] = None,
    precision: str = "32-true",
) -> np.ndarray:
    """``trimmed_obj`` for normalised amplitudes ``X`` ``(B, N, N, C)`` and offsets
    ``positions`` ``(B, 1, 2, C)`` (channels-last); returns complex64 ``(B, N, N, 1)``.

    The network input is ``X·s`` in float32 (the product training used), ``s`` the
    archived training intensity scale (api spec §7.3).  float64 inputs are cast.
    ``device``: where to run (default: where the model's parameters are).  ``precision``:
    '32-true' (default here, so results are bit-stable), 'bf16-mixed', or 'auto' (bf16
    where the device computes it natively: what ``ptychopinn-infer``, the app and
    Ptychodus use, see :func:`inference_autocast`).
    """
    x, pos, scale = _check_inputs(diffraction_to_obj, X_normalised, positions, intensity_scale, batch_size)
    out = np.empty((x.shape[0], x.shape[1], x.shape[2], 1), dtype=np.complex64)
    for start, stop, result in _batches(diffraction_to_obj, x, pos, scale, batch_size, device, precision):
        out[start:stop] = result.to(torch.complex64).cpu().numpy().transpose(0, 2, 3, 1)
    return out


def predict_outputs(
    autoencoder: nn.Module,
    X_normalised: np.ndarray,
    positions: np.ndarray,
    intensity_scale: float,
    batch_size: int = 16,
    *,
    device: Optional[Union[str, torch.device]] = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All three autoencoder outputs for ``s·X``, channels-last NumPy (the TF helper's contract).

    PINN: ``(trimmed_obj (B,N,N,1) complex64, pred_amp_scaled (B,N,N,C) float32,
    pred_intensity (B,N,N,C) float32)``; supervised: ``(obj, amp, phase)`` with
    ``(B,N,N,1)`` amplitude and phase.  Inputs as for :func:`predict_objects`.
    """
    x, pos, scale = _check_inputs(autoencoder, X_normalised, positions, intensity_scale, batch_size)
    b, n, _, c = x.shape
    c_out = c if getattr(autoencoder, "model_type", "pinn") == "pinn" else 1
    obj = np.empty((b, n, n, 1), dtype=np.complex64)
    second = np.empty((b, n, n, c_out), dtype=np.float32)
    third = np.empty((b, n, n, c_out), dtype=np.float32)
    for start, stop, (o, a, i) in _batches(autoencoder, x, pos, scale, batch_size, device):
        obj[start:stop] = o.to(torch.complex64).cpu().numpy().transpose(0, 2, 3, 1)
        second[start:stop] = a.float().cpu().numpy().transpose(0, 2, 3, 1)
        third[start:stop] = i.float().cpu().numpy().transpose(0, 2, 3, 1)
    return obj, second, third
