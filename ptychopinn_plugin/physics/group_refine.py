"""NumPy reference of the group refinement (``ModelConfig.group_refine_iterations``).

The backends refine each group's canvas with ``K`` error-reduction iterations against the
group's own measured patterns (docs/architecture.md, "Group refinement"); this module is
the independent, loop-free-of-frameworks statement of the same arithmetic that their tests
compare against:

    Z_c = crop_N(T_{r_c}(U))
    ψ_c = P_e ⊙ Z_c,   P_e = L(P)           (§6.2 applied to the probe: optional 3×3 smoothing and mask)
    ψ'_c = IDFT2( N·ifftshift(A_c) · F_c / sqrt(|F_c|² + ε_c²) ),   F_c = DFT2(ψ_c)
    U ← U + Σ_c T_{−r_c}(pad_P(P_e* ⊙ (ψ'_c − ψ_c))) / (W + δ·max W),
    W = Σ_c T_{−r_c}(pad_P(|P_e|²))

With Nesterov momentum ``β > 0`` (``ModelConfig.group_refine_momentum``) each iteration
evaluates the update at ``Y = U + β·(U − U_previous)`` and sets ``U ← Y + update(Y)``
(``U_previous = U`` on the first iteration, so the first step is plain error reduction).

``A_c`` is the measured far-field amplitude in the object's gauge (fftshifted as in §8),
``ε_c = MODULUS_EPSILON · mean(N·A_c)`` and ``δ = REFINE_REGULARISATION``.  Without
smoothing ``P_e ⊙ Z = L(P ⊙ Z)`` exactly; with it, approximately (the iterations are a
descent heuristic; the loss is computed through the exact forward model).
"""

from __future__ import annotations

import numpy as np

from ptychopinn_plugin.util.bilinear import translate

from .geometry import pad_P
from .object_big import extract_from_canvas, relative_shifts
from .probe import illuminate

__all__ = ["group_error_reduction", "REFINE_REGULARISATION", "MODULUS_EPSILON"]

REFINE_REGULARISATION = 1e-2
"""δ of the normalised update, relative to the group's largest summed probe intensity:
canvas pixels the probes hardly light keep their starting values."""
MODULUS_EPSILON = 1e-2
"""ε of the modulus projection relative to the pattern's mean target magnitude (finite
gradients at dark far-field pixels)."""


def group_error_reduction(canvas: np.ndarray, amplitude: np.ndarray, coords_relative: np.ndarray,
                          probe: np.ndarray, iterations: int, *, gaussian_smoothing_sigma: float = 0.0,
                          use_mask: bool = False, momentum: float = 0.0) -> np.ndarray:
    """Refine ``canvas`` ``(B, P, P)`` complex with ``iterations`` error-reduction steps.

    ``amplitude``: ``(B, N, N, C)`` measured amplitudes in the object's gauge (fftshifted);
    ``coords_relative``: ``(B, 1, 2, C)``; ``probe``: ``(N, N)`` complex (smoothed and masked
    here as the flags say, giving ``P_e``).  Computed in
    complex128; returns complex128 ``(B, P, P)``.
    """
    u = np.asarray(canvas, dtype=np.complex128).copy()
    amplitude = np.asarray(amplitude, dtype=np.float64)
    b, p = u.shape[0], u.shape[-1]
    n, c = amplitude.shape[1], amplitude.shape[3]
    shifts = relative_shifts(coords_relative, batch=b)
    # P_e: the §6.2 illumination of a patch of ones, as the backends compute it.
    probe = illuminate(np.ones((1, n, n), dtype=np.complex128), np.asarray(probe, dtype=np.complex128),
                       gaussian_smoothing_sigma, use_mask)[0]

    def merge(values: np.ndarray) -> np.ndarray:  # (B·C, N, N) → (B, P, P)
        moved = translate(pad_P(values, p), -shifts)
        return moved.reshape(b, c, p, p).sum(axis=1)

    weight = merge(np.broadcast_to(np.abs(probe) ** 2, (b * c, n, n)).astype(np.float64))
    weight = weight + REFINE_REGULARISATION * weight.max(axis=(1, 2), keepdims=True)
    target = np.fft.ifftshift(np.moveaxis(amplitude, 3, 1).reshape(b * c, n, n), axes=(-2, -1)) * n
    eps = MODULUS_EPSILON * target.mean(axis=(1, 2), keepdims=True) + 1e-12
    previous = u
    for _ in range(int(iterations)):
        start = u + momentum * (u - previous) if momentum else u
        psi = probe * extract_from_canvas(start, coords_relative, n)
        spectrum = np.fft.fft2(psi)
        projected = np.fft.ifft2(spectrum * target / np.sqrt(np.abs(spectrum) ** 2 + eps ** 2))
        previous, u = u, start + merge(np.conj(probe) * (projected - psi)) / weight
    return u
