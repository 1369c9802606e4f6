"""``eval_reconstruction``: score a stitched complex object against the ground truth (§11).

Every metric is a pair ``(amplitude, phase)``.  Conventions for degenerate cases
(documented here because the spec's formulas are undefined there):

* ``psnr`` / ``psnr_legacy`` are ``+inf`` when ``mse == 0`` (a perfect match; no cap).
  ``psnr`` is NaN when the target has zero dynamic range but ``mse > 0``.
  JSON cannot hold these values; :mod:`report` writes them as the strings
  ``"inf"``, ``"-inf"``, ``"nan"``.
* ``ssim`` is NaN when the target has zero dynamic range (SSIM's constants vanish).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ptychopinn_plugin.evaluation.alignment import PHASE_ALIGN_METHODS, align_phase, centred_phase, scale_amplitude
from ptychopinn_plugin.evaluation.frc import THRESHOLD_HALF, THRESHOLD_ONE_SEVENTH, frc_curve, frc_cutoff
from ptychopinn_plugin.evaluation import registration as _registration
from ptychopinn_plugin.evaluation.registration import UPSAMPLE_FACTOR
from ptychopinn_plugin.evaluation.ssim import AMPLITUDE_SMOOTHING_SIGMA, MIN_SIDE, ms_ssim, phase_to_unit, ssim

logger = logging.getLogger(__name__)

METRIC_NAMES = ("mae", "mse", "psnr", "psnr_legacy", "ssim", "ms_ssim", "frc50", "frc1over7", "frc")
LEGACY_PEAK = 255.0


def eval_reconstruction(
    stitched: np.ndarray,
    ground_truth: np.ndarray,
    *,
    canvas_com: Sequence[float] | None = None,
    register: bool = True,
    phase_align_method: str = "plane",
    eval_border: int = 2,
    frc_sigma: float = 0.0,
    upsample_factor: int = UPSAMPLE_FACTOR,
) -> dict[str, Any]:
    """Physics §11 metrics of ``stitched`` (2-D complex; ``(P, P, 1)``/``(1, P, P)`` squeezed)
    against ``ground_truth`` (2-D complex).

    ``canvas_com``: ``(x, y)`` object coordinates of the canvas centre of mass (§10 item 6);
    when given, the ground truth is cropped to the canvas footprint; otherwise both images
    are centre-cropped to a common shape.  ``register``: refine with sub-pixel phase
    correlation.  Returns ``{mae, mse, psnr, psnr_legacy, ssim, ms_ssim, frc50, frc1over7,
    frc}`` as ``(amplitude, phase)`` tuples (``frc``: two curves) plus
    ``registration_shift``: the ``(dy, dx)`` pixels applied to the reconstruction, or
    None when ``register`` is False.
    """
    recon = _as_2d_complex("stitched", stitched)
    truth = _as_2d_complex("ground_truth", ground_truth)
    if phase_align_method not in PHASE_ALIGN_METHODS:
        raise ValueError(f"phase_align_method = {phase_align_method!r} is invalid; allowed: one of {PHASE_ALIGN_METHODS}")
    if isinstance(eval_border, bool) or not isinstance(eval_border, (int, np.integer)) or eval_border < 0:
        raise ValueError(f"eval_border = {eval_border!r} is invalid; allowed: an integer >= 0")
    if not (isinstance(frc_sigma, (int, float)) and frc_sigma >= 0):
        raise ValueError(f"frc_sigma = {frc_sigma!r} is invalid; allowed: a real number >= 0")
    com = None
    if canvas_com is not None:
        com = tuple(float(v) for v in np.asarray(canvas_com, dtype=np.float64).reshape(-1))
        if len(com) != 2 or not all(math.isfinite(v) for v in com):
            raise ValueError(f"canvas_com must be two finite numbers (x, y); got {canvas_com!r}")

    # The keyword ``register`` is the public API name, so the module is reached as ``_registration``.
    reg = _registration.register(recon, truth, canvas_com=com, refine=register, upsample_factor=upsample_factor)
    s_img, g_img = _trim(reg.reconstruction, eval_border), _trim(reg.ground_truth, eval_border)
    if min(s_img.shape) < MIN_SIDE:
        raise ValueError(
            f"only {s_img.shape} pixels remain after registration and an eval_border of {eval_border}; "
            f"at least {MIN_SIDE}×{MIN_SIDE} are needed"
        )

    amp_t = np.abs(g_img).astype(np.float64)
    amp_p = scale_amplitude(np.abs(s_img), amp_t)
    ph_t = align_phase(centred_phase(g_img), phase_align_method)
    ph_p = align_phase(centred_phase(s_img), phase_align_method)

    amp = _pair_metrics(amp_t, amp_p, ssim_inputs=(amp_t, amp_p), ssim_range=float(np.ptp(amp_t)),
                        ms_inputs=(amp_t, amp_p), ms_sigma=AMPLITUDE_SMOOTHING_SIGMA, frc_sigma=frc_sigma)
    unit_t, unit_p = phase_to_unit(ph_t), phase_to_unit(ph_p)
    phs = _pair_metrics(ph_t, ph_p, ssim_inputs=(unit_t, unit_p), ssim_range=1.0,
                        ms_inputs=(unit_t, unit_p), ms_sigma=0.0, frc_sigma=frc_sigma)
    result: dict[str, Any] = {name: (amp[name], phs[name]) for name in METRIC_NAMES}
    result["registration_shift"] = reg.shift
    logger.info(
        "metrics (amplitude, phase): ssim %s, psnr %s, frc50 %s",
        _fmt(result["ssim"]), _fmt(result["psnr"]), _fmt(result["frc50"]),
    )
    return result


def _pair_metrics(
    target: np.ndarray,
    prediction: np.ndarray,
    *,
    ssim_inputs: tuple[np.ndarray, np.ndarray],
    ssim_range: float,
    ms_inputs: tuple[np.ndarray, np.ndarray],
    ms_sigma: float,
    frc_sigma: float,
) -> dict[str, Any]:
    diff = prediction - target
    mae = float(np.mean(np.abs(diff)))
    mse = float(np.mean(diff**2))
    dynamic_range = float(np.ptp(target))
    curve = frc_curve(target, prediction, sigma=frc_sigma)
    return {
        "mae": mae,
        "mse": mse,
        "psnr": psnr(mse, dynamic_range),
        "psnr_legacy": psnr(mse, LEGACY_PEAK),
        "ssim": ssim(*ssim_inputs, data_range=ssim_range),
        "ms_ssim": ms_ssim(*ms_inputs, smooth_sigma=ms_sigma),
        "frc50": frc_cutoff(curve, THRESHOLD_HALF),
        "frc1over7": frc_cutoff(curve, THRESHOLD_ONE_SEVENTH),
        "frc": curve,
    }


def psnr(mse: float, peak: float) -> float:
    """``10·log10(peak²/mse)``; +inf for mse = 0, NaN for a zero peak with mse > 0."""
    if mse == 0:
        return float("inf")
    if not peak > 0:
        return float("nan")
    return float(10.0 * math.log10(peak * peak / mse))


def _trim(img: np.ndarray, border: int) -> np.ndarray:
    if border == 0:
        return img
    return img[border:-border, border:-border]


def _as_2d_complex(name: str, array: np.ndarray) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D complex image (or (P, P, 1) / (1, P, P)); got shape {np.shape(array)}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(np.complex128)
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} contains {bad} non-finite pixel(s)")
    return arr


def _fmt(pair: tuple[float, float]) -> str:
    return f"({pair[0]:.4g}, {pair[1]:.4g})"
