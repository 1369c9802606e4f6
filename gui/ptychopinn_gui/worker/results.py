"""Turn library results into plain, picklable messages (NumPy arrays and Python scalars)."""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["reconstruction_message", "evaluate", "plain_metrics", "plain_history"]


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
                           epoch: Optional[int] = None) -> dict[str, Any]:
    return {
        "object": np.asarray(outcome.object, dtype=np.complex64),
        "canvas_com": tuple(float(v) for v in outcome.geometry.com_xy),
        "label": label,
        "metrics": metrics,
        "epoch": epoch,
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
