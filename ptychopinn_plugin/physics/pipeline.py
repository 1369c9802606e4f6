"""End-to-end NumPy reference of the PINN physics (physics §5, §6.2, §8).

Composes the object_big merge, extraction, illumination and far-field propagation into
the three outputs of the ``autoencoder`` model that depend on physics only, given the
network's object patches.  Backend parity tests feed the same patches, offsets, probe
and log-scale ``w`` to their own layers and compare with :func:`forward_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptychopinn_plugin.physics.forward import far_field_amplitude
from ptychopinn_plugin.physics.geometry import unflatten_channels
from ptychopinn_plugin.physics.object_big import (
    extract_from_canvas,
    merge_group_patches,
    single_channel_canvas,
    trimmed_object,
)
from ptychopinn_plugin.physics.probe import illuminate

__all__ = ["ForwardOutputs", "forward_reference"]


@dataclass(frozen=True)
class ForwardOutputs:
    """Physics outputs of the PINN for one batch (channels-last)."""

    canvas: np.ndarray
    """Merged canvases ``U`` ``(B, P, P)``."""
    trimmed_obj: np.ndarray
    """``crop_N(U)`` ``(B, N, N, 1)``."""
    illuminated: np.ndarray
    """``ψ`` flat ``(B·C, N, N)`` (group-major)."""
    pred_amp_scaled: np.ndarray
    """``exp(w)·A_pred`` ``(B, N, N, C)``."""
    pred_intensity: np.ndarray
    """``pred_amp_scaled²`` ``(B, N, N, C)``."""


def forward_reference(
    patches: np.ndarray,
    coords_relative: np.ndarray,
    probe: np.ndarray,
    log_scale: float,
    *,
    canvas_size: int,
    object_big: bool = True,
    gaussian_smoothing_sigma: float = 0.0,
    probe_mask: bool = False,
) -> ForwardOutputs:
    """Run §5 → §6.2 → §8 on network object patches.

    ``patches``: ``(B, N, N, C)`` complex (``C = 1`` when ``object_big`` is False);
    ``coords_relative``: ``(B, 1, 2, C)``; ``probe``: normalised ``(N, N)``;
    ``log_scale``: ``w``; ``canvas_size``: ``P`` (see :func:`geometry.canvas_size`).
    """
    patches = np.asarray(patches)
    if patches.ndim != 4:
        raise ValueError(f"patches must be (B, N, N, C); got shape {patches.shape}")
    n = patches.shape[1]
    channels = np.asarray(coords_relative).shape[-1]
    if object_big:
        if patches.shape[3] != channels:
            raise ValueError(
                f"object_big merge needs one patch per group member: patches have {patches.shape[3]} "
                f"channels, coords_relative has {channels}"
            )
        canvas = merge_group_patches(patches, coords_relative, canvas_size)
    else:
        canvas = single_channel_canvas(patches, canvas_size)
    z = extract_from_canvas(canvas, coords_relative, n)
    psi = illuminate(z, probe, gaussian_smoothing_sigma, probe_mask)
    amplitude = unflatten_channels(far_field_amplitude(psi), channels)
    scaled = (np.exp(np.float64(log_scale)) * amplitude.astype(np.float64)).astype(amplitude.dtype)
    return ForwardOutputs(
        canvas=canvas,
        trimmed_obj=trimmed_object(canvas, n),
        illuminated=psi,
        pred_amp_scaled=scaled,
        pred_intensity=scaled * scaled,
    )
