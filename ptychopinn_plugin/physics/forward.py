"""Far-field forward model (physics §8): illuminated patch → diffraction amplitude.

``I = |DFT2 ψ|² / N²`` (unnormalised forward DFT, so ``Σ I = Σ |ψ|²`` by Parseval) and
``A = sqrt(fftshift(I))`` with the zero frequency at pixel ``(N/2, N/2)``, the same
centring the data contract requires of measured patterns.  The NumPy version is the
reference both backends are compared against; it computes in float64 and returns the
input's precision.
"""

from __future__ import annotations

import numpy as np

__all__ = ["far_field_intensity", "far_field_amplitude"]


def _check_patches(psi: np.ndarray) -> np.ndarray:
    psi = np.asarray(psi)
    if psi.ndim < 2 or psi.shape[-1] != psi.shape[-2]:
        raise ValueError(f"illuminated patches must be (..., N, N) square; got shape {psi.shape}")
    return psi


def _real_dtype(dtype: np.dtype) -> type:
    return np.float32 if dtype in (np.float32, np.complex64) else np.float64


def _intensity64(psi: np.ndarray) -> np.ndarray:
    """Unshifted ``|DFT2 ψ|² / N²`` in float64."""
    n = psi.shape[-1]
    spectrum = np.fft.fft2(psi.astype(np.complex128, copy=False), axes=(-2, -1))
    return (spectrum.real**2 + spectrum.imag**2) / float(n * n)


def far_field_intensity(psi: np.ndarray, shift: bool = False) -> np.ndarray:
    """``I = |DFT2(ψ)|² / N²`` over the last two axes; with ``shift`` also ``fftshift``-ed.

    No shift is applied before the transform (only magnitudes are used).
    """
    psi = _check_patches(psi)
    intensity = _intensity64(psi)
    if shift:
        intensity = np.fft.fftshift(intensity, axes=(-2, -1))
    return intensity.astype(_real_dtype(psi.dtype), copy=False)


def far_field_amplitude(psi: np.ndarray) -> np.ndarray:
    """``A = sqrt(fftshift(|DFT2 ψ|² / N²))``: centred diffraction amplitude (physics §8)."""
    psi = _check_patches(psi)
    amplitude = np.sqrt(np.fft.fftshift(_intensity64(psi), axes=(-2, -1)))
    return amplitude.astype(_real_dtype(psi.dtype), copy=False)
