"""Turn library results into plain, picklable messages (NumPy arrays and Python scalars)."""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["reconstruction_message", "evaluate", "plain_metrics", "plain_history", "misfit_message"]


def plain_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key == "frc":
            out[key] = [np.asarray(v, dtype=np.float64) for v in value]
        elif isinstance(value, (tuple, list)):
            out[key] = tuple(float(v) if np.ndim(v) == 0 else np.asarray(v) for v in value)
        elif value is None:
            out[key] = None
        else:
            out[key] = float(value) if np.ndim(value) == 0 else np.asarray(value)
    return out


def evaluate(outcome: Any, object_guess: Optional[np.ndarray]) -> Optional[dict[str, Any]]:
    """Physics §11 metrics of a stitched outcome against the ground truth (None without one)."""
    if object_guess is None:
        return None
    from ptychopinn_plugin.evaluation import eval_reconstruction

    try:
        return plain_metrics(eval_reconstruction(outcome.object, object_guess, canvas_com=outcome.geometry.com_xy))
    except ValueError as exc:
        logger.warning("metrics not computed: %s", exc)
        return None


def reconstruction_message(outcome: Any, label: str, metrics: Optional[dict[str, Any]] = None,
                           epoch: Optional[int] = None, misfit: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    return {
        "object": np.asarray(outcome.object, dtype=np.complex64),
        "canvas_com": tuple(float(v) for v in outcome.geometry.com_xy),
        "label": label,
        "metrics": metrics,
        "epoch": epoch,
        "misfit": misfit,
    }


def misfit_message(refined: Any) -> dict[str, Any]:
    """The data-consistency map of a :class:`~ptychopinn_plugin.workflows.consistency.RefinedReconstruction`
    for the preview: positions in canvas pixels, the deviance over its noise level per position,
    the summary line, and the documented ``misfit_*`` arrays for exports."""
    final = refined.final
    origin_x, origin_y = refined.outcome.geometry.origin_xy
    summary = final.summary()
    text = (f"misfit: deviance {summary['deviance_ratio_median']:.3g}× the Poisson noise level (median), "
            f"R-factor {summary['r_factor_median']:.3g}")
    if refined.after is not None:
        before = refined.before.summary()
        text += (f"; network alone {before['deviance_ratio_median']:.3g}×, R {before['r_factor_median']:.3g}; "
                 f"{refined.iterations_done} refinement iterations in {refined.seconds:.1f} s")
    arrays = {key: np.asarray(value) for key, value in refined.misfit_arrays().items()}
    return {
        "x_px": np.asarray(final.x - origin_x, dtype=np.float64),
        "y_px": np.asarray(final.y - origin_y, dtype=np.float64),
        "deviance_ratio": np.asarray(final.deviance_ratio, dtype=np.float64),
        "r_factor": np.asarray(final.r_factor, dtype=np.float64),
        "text": text,
        "arrays": arrays,
    }


def plain_history(history: Optional[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for key, values in (history or {}).items():
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError):
            continue
    return out


def finite_or_nan(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v
