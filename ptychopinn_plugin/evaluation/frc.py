"""Fourier ring correlation (physics spec §11): curve and threshold cut-offs.

Rings are indexed by the distance from the zero-frequency pixel ``(n//2, n//2)`` of the
fftshifted spectrum rounded to the nearest integer, including the corner rings beyond
the inscribed circle, so a curve has ``round(max distance) + 1`` rings.  Cut-offs are in
ring units (ring ``n/2`` is the Nyquist frequency along an axis).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

THRESHOLD_HALF = 0.5
THRESHOLD_ONE_SEVENTH = 1.0 / 7.0


def square_centre_crop(img: np.ndarray) -> np.ndarray:
    """Centre-crop to ``n × n`` with ``n = min(rows, cols)``."""
    rows, cols = img.shape
    n = min(rows, cols)
    r0, c0 = (rows - n) // 2, (cols - n) // 2
    return img[r0 : r0 + n, c0 : c0 + n]


def ring_indices(n: int) -> np.ndarray:
    """Integer ring index of every pixel of an ``n × n`` shifted spectrum."""
    idx = np.arange(n) - n // 2
    return np.rint(np.sqrt(idx[:, None] ** 2 + idx[None, :] ** 2)).astype(np.int64)


def frc_curve(img1: np.ndarray, img2: np.ndarray, *, sigma: float = 0.0) -> np.ndarray:
    """``FRC(r) = |Σ_r F1·F2*| / sqrt(Σ_r |F1|² · Σ_r |F2|²)``; rings with no power score 0.

    ``sigma > 0`` smooths the curve with a 1-D Gaussian (``frc_sigma`` of §11).
    """
    if img1.shape != img2.shape or img1.ndim != 2:
        raise ValueError(f"FRC needs two 2-D images of equal shape; got {img1.shape} and {img2.shape}")
    a = square_centre_crop(np.asarray(img1, dtype=np.float64))
    b = square_centre_crop(np.asarray(img2, dtype=np.float64))
    f1 = np.fft.fftshift(np.fft.fft2(a))
    f2 = np.fft.fftshift(np.fft.fft2(b))
    rings = ring_indices(a.shape[0]).ravel()
    n_rings = int(rings.max()) + 1
    cross = f1.ravel() * np.conj(f2.ravel())
    num = np.abs(
        np.bincount(rings, weights=cross.real, minlength=n_rings)
        + 1j * np.bincount(rings, weights=cross.imag, minlength=n_rings)
    )
    p1 = np.bincount(rings, weights=np.abs(f1.ravel()) ** 2, minlength=n_rings)
    p2 = np.bincount(rings, weights=np.abs(f2.ravel()) ** 2, minlength=n_rings)
    denom = np.sqrt(p1 * p2)
    curve = np.divide(num, denom, out=np.zeros(n_rings), where=denom > 0)
    if sigma > 0:
        curve = ndimage.gaussian_filter1d(curve, sigma)
    return curve


def frc_cutoff(curve: np.ndarray, threshold: float) -> float:
    """First ring where the curve drops below ``threshold``, linearly interpolated with
    the previous ring; 0 if ring 0 is already below; ``len(curve)`` if it never drops."""
    curve = np.asarray(curve, dtype=np.float64)
    below = np.flatnonzero(curve < threshold)
    if below.size == 0:
        return float(curve.size)
    r = int(below[0])
    if r == 0:
        return 0.0
    prev, cur = curve[r - 1], curve[r]
    return float((r - 1) + (prev - threshold) / (prev - cur))
