"""SSIM and MS-SSIM exactly as physics spec §11 defines them (scikit-image SSIM inside).

MS-SSIM here is the spec's variant, not Wang et al.'s original: every level uses the
*full* SSIM (luminance × contrast × structure), one ``data_range`` fixed before the
first level, decimation by keeping every second pixel (no low-pass between levels), and
the clamps below.  This keeps the numbers comparable with the original's published ones.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.metrics import structural_similarity

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MIN_SIDE = 7  # scikit-image's default 7×7 window
NEGATIVE_SSIM_CLAMP = 1e-4
AMPLITUDE_SMOOTHING_SIGMA = 1.0


def phase_to_unit(phase: np.ndarray) -> np.ndarray:
    """Map phase (rad) to ``(φ + π)/(2π)`` so that [−π, π] becomes [0, 1] (used with data_range 1)."""
    return (np.asarray(phase, dtype=np.float64) + np.pi) / (2 * np.pi)


def ssim(target: np.ndarray, prediction: np.ndarray, data_range: float) -> float:
    """Mean SSIM (scikit-image, 7×7 uniform window); NaN when ``data_range`` is 0 (undefined)."""
    _check_side(target.shape, prediction.shape)
    if not data_range > 0:
        return float("nan")
    return float(
        structural_similarity(
            np.asarray(target, dtype=np.float64), np.asarray(prediction, dtype=np.float64), data_range=data_range
        )
    )


def ms_ssim(
    target: np.ndarray,
    prediction: np.ndarray,
    *,
    smooth_sigma: float = 0.0,
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
) -> float:
    """Multi-scale SSIM of §11: ``Π_l ssim_l^{w_l}`` over up to ``len(weights)`` levels.

    * inputs optionally Gaussian-smoothed first (σ = 1 for amplitudes, 0 for phases);
    * one ``data_range`` = larger of the two (smoothed) images' ranges, fixed before level 0;
    * after each level keep every second pixel; stop when the smaller side is < 7;
    * a negative level SSIM is clamped to 1e-4; a NaN level SSIM (or result) counts as 0.
    """
    img1 = np.asarray(target, dtype=np.float64)
    img2 = np.asarray(prediction, dtype=np.float64)
    _check_side(img1.shape, img2.shape)
    if smooth_sigma > 0:
        img1 = ndimage.gaussian_filter(img1, smooth_sigma)
        img2 = ndimage.gaussian_filter(img2, smooth_sigma)
    data_range = max(float(np.ptp(img1)), float(np.ptp(img2)))
    if not data_range > 0:
        return 0.0  # flat images: SSIM is 0/0 (NaN) at every level → 0
    result = 1.0
    for weight in weights:
        if min(img1.shape) < MIN_SIDE:
            break
        level = float(structural_similarity(img1, img2, data_range=data_range))
        if math.isnan(level):
            level = 0.0
        elif level < 0:
            level = NEGATIVE_SSIM_CLAMP
        result *= level**weight
        img1 = img1[::2, ::2]
        img2 = img2[::2, ::2]
    return 0.0 if math.isnan(result) else float(result)


def _check_side(shape1: tuple[int, ...], shape2: tuple[int, ...]) -> None:
    if shape1 != shape2:
        raise ValueError(f"SSIM needs images of equal shape; got {shape1} and {shape2}")
    if len(shape1) != 2 or min(shape1) < MIN_SIDE:
        raise ValueError(
            f"SSIM needs 2-D images of at least {MIN_SIDE}×{MIN_SIDE} pixels after registration and border "
            f"trim; got {shape1}"
        )
