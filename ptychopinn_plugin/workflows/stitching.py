"""Stitching a test reconstruction: ``reassemble_cdi_image`` (api spec §6.5, physics §10).

Predictions are streamed into :class:`~ptychopinn_plugin.physics.PatchStitcher` one
batch at a time, so stitching never holds more than one batch of predicted patches
beyond what the caller asked to keep (tens of thousands of patches must stitch without
a ``(B, N, N, 1)`` array).  Orientation options act on the stitching only (physics §8):
``transpose`` swaps the patch axes ``(0, 2, 1, 3)``, ``flip_x``/``flip_y`` negate the x/y
group centres, ``coord_scale`` scales them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.physics.stitching import PatchStitcher, StitchGeometry
from ptychopinn_plugin.workflows.backend_ops import DEFAULT_PREDICT_BATCH_SIZE

logger = logging.getLogger(__name__)

__all__ = ["StitchOutcome", "stitch_container", "transform_offsets", "reassemble_cdi_image"]


@dataclass(frozen=True)
class StitchOutcome:
    """A stitched object plus the geometry needed to register or place it."""

    image: np.ndarray
    """complex64 ``(P, P, 1)``; uncovered pixels are 0."""
    geometry: StitchGeometry
    """``com_xy`` (mean of the offsets used) and ``canvas_size`` ``P``: canvas pixel ``k`` ↔
    object coordinate ``com + k − P/2``."""
    global_offsets: np.ndarray
    """The group centres used for stitching (after flips/scaling), float64 ``(B, 1, 2, 1)``."""
    patches: Optional[np.ndarray]
    """The patches that were stitched (after ``transpose``), or None when not kept."""

    @property
    def object(self) -> np.ndarray:
        """2-D complex64 ``(P, P)``."""
        return self.image[..., 0]

    @property
    def amplitude(self) -> np.ndarray:
        return np.abs(self.object).astype(np.float32)

    @property
    def phase(self) -> np.ndarray:
        return np.angle(self.object).astype(np.float32)


def transform_offsets(global_offsets: np.ndarray, flip_x: bool = False, flip_y: bool = False,
                      coord_scale: float = 1.0) -> np.ndarray:
    """Group centres ``(B, 1, 2, 1)`` with x and/or y negated, then scaled (float64 copy)."""
    q = np.array(global_offsets, dtype=np.float64, copy=True)
    if q.ndim != 4 or q.shape[1:] != (1, 2, 1):
        raise ValueError(f"global_offsets must have shape (B, 1, 2, 1); got {q.shape}")
    if flip_x:
        q[:, :, 0, :] *= -1.0
    if flip_y:
        q[:, :, 1, :] *= -1.0
    scale = float(coord_scale)
    if not np.isfinite(scale) or scale == 0:
        raise ValueError(f"coord_scale = {coord_scale!r} is invalid; allowed: a finite non-zero number")
    if scale != 1.0:
        q *= scale
    return q


def stitch_container(
    container: PtychoDataContainer,
    *,
    predictor: Any = None,
    patches: Optional[np.ndarray] = None,
    M: int = 20,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    coord_scale: float = 1.0,
    keep_patches: bool = False,
    batch_size: int = DEFAULT_PREDICT_BATCH_SIZE,
) -> StitchOutcome:
    """Stitch ``container``'s groups at their centres ``global_offsets``.

    Patches come either from ``patches`` (already predicted, ``(B, N, N, 1)``; streamed
    batch by batch) or from ``predictor.predict_normalised(X, coords_nominal)`` called
    batch by batch.  ``keep_patches`` additionally returns every stitched patch (with a
    predictor this allocates ``(B, N, N, 1)``; with ``patches`` it is a view).
    """
    if (predictor is None) == (patches is None):
        raise ValueError("give exactly one of predictor= and patches=")
    b = len(container)
    n = int(container.X.shape[1])
    offsets = transform_offsets(container.global_offsets, flip_x, flip_y, coord_scale)
    stitcher = PatchStitcher(offsets, N=n, M=M)
    kept: Optional[np.ndarray] = None
    if patches is not None:
        patches = np.asarray(patches)
        if patches.shape != (b, n, n, 1):
            raise ValueError(f"patches must have shape {(b, n, n, 1)} to match the container; got {patches.shape}")
        if transpose:
            patches = np.transpose(patches, (0, 2, 1, 3))
        for start in range(0, b, int(batch_size)):
            stitcher.add(patches[start:start + int(batch_size)])
        kept = patches if keep_patches else None
    else:
        if keep_patches:
            kept = np.empty((b, n, n, 1), dtype=np.complex64)
        for start in range(0, b, int(batch_size)):
            stop = min(start + int(batch_size), b)
            batch = predictor.predict_normalised(container.X[start:stop], container.coords_nominal[start:stop])
            if transpose:
                batch = np.transpose(batch, (0, 2, 1, 3))
            stitcher.add(batch)
            if kept is not None:
                kept[start:stop] = batch
    result = stitcher.result()
    logger.info("stitched %d groups onto a %d px canvas centred at (%.2f, %.2f)", b, result.canvas_size,
                *result.com_xy)
    return StitchOutcome(image=result.image, geometry=result.geometry, global_offsets=offsets, patches=kept)


def reassemble_cdi_image(
    test_data: Any,
    config: Any,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    M: int = 20,
    coord_scale: float = 1.0,
    *,
    predictor: Any = None,
    keep_patches: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Group ``test_data``, predict with the current model and stitch (api spec §6.5).

    Returns ``(amp, phase, {obj_tensor_full, global_offsets, recon_amp, recon_phase})``
    with 2-D ``amp``/``phase``.  Test data are grouped one group per scan position for a
    ``TrainingConfig`` and with ``n_groups`` (None = one per position) for an
    ``InferenceConfig``.  ``predictor`` overrides the current model; ``keep_patches=False``
    streams without keeping the predictions (``obj_tensor_full`` is then None).
    """
    from ptychopinn_plugin.config import TrainingConfig
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container

    if predictor is None:
        from ptychopinn_plugin.workflows.inference import current_predictor

        predictor = current_predictor()
    if isinstance(config, TrainingConfig):
        container = create_ptycho_data_container(test_data, config, n_groups=None)
    else:
        container = create_ptycho_data_container(test_data, config)
    outcome = stitch_container(container, predictor=predictor, M=M, flip_x=flip_x, flip_y=flip_y,
                               transpose=transpose, coord_scale=coord_scale, keep_patches=keep_patches)
    amp, phase = outcome.amplitude, outcome.phase
    return amp, phase, {
        "obj_tensor_full": outcome.patches,
        "global_offsets": outcome.global_offsets,
        "recon_amp": amp,
        "recon_phase": phase,
    }
