"""Far-field forward model used by the simulator (physics spec §8 items 1–3).

``A = sqrt(fftshift(|DFT2 ψ|²) / N²)``: unnormalised forward DFT, intensities divided
by N² so that Σ A² = Σ |ψ|² (Parseval), zero frequency moved to pixel (N/2, N/2).
This must match the model's own propagator exactly, otherwise the network would have
to learn a different physics than the one it embeds.
"""

from __future__ import annotations

import numpy as np


def far_field_amplitude(psi: np.ndarray) -> np.ndarray:
    """Diffraction amplitude of exit waves ``psi`` ``(..., N, N)`` → float64 ``(..., N, N)``."""
    psi = np.asarray(psi)
    if psi.ndim < 2 or psi.shape[-1] != psi.shape[-2]:
        raise ValueError(f"exit waves must be (..., N, N) with square patterns; got shape {psi.shape}")
    n = psi.shape[-1]
    spectrum = np.fft.fft2(psi.astype(np.complex128, copy=False), axes=(-2, -1))
    intensity = (spectrum.real**2 + spectrum.imag**2) / (n * n)
    return np.sqrt(np.fft.fftshift(intensity, axes=(-2, -1)))
