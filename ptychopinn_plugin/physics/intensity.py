"""Intensity scale and the loss formulas of physics §7 and §12.1 (NumPy references).

``s = sqrt(nphotons)/(N/2)`` puts ``s·X`` in the photon-count domain (the data are
normalised so that ``mean Σ X² = (N/2)²``), which is where the Poisson likelihood is
meaningful.  The loss functions here are the references the TF/torch parity tests
compare against; they use float64 internally.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "intensity_scale",
    "poisson_nll",
    "mae_loss",
    "total_variation",
    "realspace_mae",
    "NLL_FLOOR",
]

NLL_FLOOR = 1e-12
"""Floor applied to the predicted intensity inside the logarithm of the Poisson NLL."""


def intensity_scale(nphotons: float, N: int) -> float:
    """Closed-form intensity scale ``s = sqrt(nphotons) / (N/2)`` (physics §7)."""
    nphotons = float(nphotons)
    if not np.isfinite(nphotons) or nphotons <= 0:
        raise ValueError(f"nphotons must be a finite number > 0; got {nphotons!r}")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or int(N) < 2:
        raise ValueError(f"N must be an integer >= 2; got {N!r}")
    return float(np.sqrt(nphotons) / (int(N) / 2))


def _same_shape(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"{what}: prediction shape {a.shape} differs from target shape {b.shape}")
    return a, b


def poisson_nll(pred_intensity: np.ndarray, target_intensity: np.ndarray) -> float:
    """``mean(λ - y·log(max(λ, 1e-12)))`` with ``λ = pred_intensity``, ``y = (s·X)²``.

    Poisson negative log-likelihood without the ``log(y!)`` constant (§12.1).
    """
    lam, y = _same_shape(pred_intensity, target_intensity, "poisson_nll")
    lam = lam.astype(np.float64)
    y = y.astype(np.float64)
    return float(np.mean(lam - y * np.log(np.maximum(lam, NLL_FLOOR))))


def mae_loss(pred_amplitude: np.ndarray, target_amplitude: np.ndarray) -> float:
    """``mean |pred_amp_scaled - s·X|`` (§12.1 ``L_mae``)."""
    a, b = _same_shape(pred_amplitude, target_amplitude, "mae_loss")
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def total_variation(obj: np.ndarray) -> float:
    """``TV``: sum over the batch of squared forward differences along x and y of the
    real and imaginary parts — a scalar, not averaged (§12.1).

    ``obj``: ``(B, N, N, 1)`` (channels-last) or ``(B, N, N)``; the two spatial axes are
    axes 1 and 2.
    """
    o = np.asarray(obj)
    if o.ndim == 4:
        o = o[..., 0] if o.shape[-1] == 1 else np.moveaxis(o, 3, 1).reshape(-1, *o.shape[1:3])
    if o.ndim != 3:
        raise ValueError(f"total_variation expects (B, N, N, 1) or (B, N, N); got shape {np.shape(obj)}")
    o = o.astype(np.complex128)
    total = 0.0
    for diff in (np.diff(o, axis=1), np.diff(o, axis=2)):
        total += float(np.sum(diff.real**2) + np.sum(diff.imag**2))
    return total


def realspace_mae(obj: np.ndarray, target: np.ndarray) -> float:
    """``mean| |Õ| - |Y_c| | + mean| angle(Õ) - angle(Y_c) |`` (§12.1, real-space MAE part).

    ``target`` is the complex ground truth moved onto the group centre.  Real-valued
    targets cannot supply a phase: the caller must raise (§12.1) before calling this.
    """
    o, y = _same_shape(obj, target, "realspace_mae")
    o = o.astype(np.complex128)
    y = y.astype(np.complex128)
    return float(np.mean(np.abs(np.abs(o) - np.abs(y))) + np.mean(np.abs(np.angle(o) - np.angle(y))))
