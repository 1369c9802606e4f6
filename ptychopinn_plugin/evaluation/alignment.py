"""Gauge removal before comparing images (physics spec §11 items 3–4).

A ptychographic reconstruction is only defined up to a global amplitude factor, a
global phase offset and (with position/probe ambiguities) a linear phase ramp, so these
are removed before any pixel-wise comparison.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

PhaseAlignMethod = Literal["plane", "mean"]
PHASE_ALIGN_METHODS = ("plane", "mean")


def scale_amplitude(pred_amplitude: np.ndarray, target_amplitude: np.ndarray) -> np.ndarray:
    """Mean-ratio scaling: ``a_p = |S| · mean(a_t) / mean(|S|)`` (§11 item 3)."""
    pred_mean = float(np.mean(pred_amplitude))
    if not np.isfinite(pred_mean) or pred_mean <= 0:
        raise ValueError(
            f"cannot scale the reconstruction amplitude: its mean over the evaluated region is {pred_mean!r} "
            "(expected a finite positive value; is the reconstruction empty there?)"
        )
    return np.asarray(pred_amplitude, dtype=np.float64) * (float(np.mean(target_amplitude)) / pred_mean)


def fit_plane(phase: np.ndarray) -> np.ndarray:
    """Least-squares plane ``c0 + c1·x + c2·y`` (x = column, y = row) evaluated on the grid."""
    phase = np.asarray(phase, dtype=np.float64)
    rows, cols = phase.shape
    yy, xx = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")
    design = np.stack([np.ones(phase.size), xx.ravel(), yy.ravel()], axis=1)
    coeffs, *_ = np.linalg.lstsq(design, phase.ravel(), rcond=None)
    return (design @ coeffs).reshape(phase.shape)


def centred_phase(field: np.ndarray) -> np.ndarray:
    """Phase of ``field`` measured from its amplitude-weighted circular mean, in (−π, π].

    Why: the global phase offset is a true ambiguity of the measurement (the loss is
    blind to it), so a model may settle anywhere on the circle — e.g. near ±π, where its
    phase map wraps and a least-squares plane or mean of ``angle(S)`` is meaningless (a
    uniform phase of π reads as a random ±π pattern).  Rotating the complex field by
    ``exp(−i·angle(Σ field))`` first puts the map's centre at 0; for a map that does not
    wrap, this only changes the constant that ``align_phase`` removes anyway, so the
    §11 item 4 result is unchanged there (decision recorded in docs/evaluation.md).
    """
    field = np.asarray(field)
    total = complex(np.sum(field, dtype=np.complex128))
    rotation = np.exp(-1j * np.angle(total)) if total != 0 else 1.0
    return np.angle(field.astype(np.complex128) * rotation)


def align_phase(phase: np.ndarray, method: str = "plane") -> np.ndarray:
    """Remove the phase gauge from one map: ``'plane'`` subtracts its least-squares plane,
    ``'mean'`` its mean.  Target and prediction are each aligned independently (§11 item 4)."""
    phase = np.asarray(phase, dtype=np.float64)
    if method == "plane":
        return phase - fit_plane(phase)
    if method == "mean":
        return phase - float(np.mean(phase))
    raise ValueError(f"phase_align_method = {method!r} is invalid; allowed: one of {PHASE_ALIGN_METHODS}")
