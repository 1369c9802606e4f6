"""Probe mask, normalisation, default/estimated probes and the illumination step (physics §6).

The normalisation fixes the object-amplitude gauge: data are scaled so that
``mean Σ X² = (N/2)²`` and the propagator conserves energy, so the probe's scale decides
how bright the reconstructed object must be.  Everything here is NumPy/SciPy; the
backends re-implement :func:`illuminate` in their own framework and are tested against
this reference.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "probe_mask",
    "normalise_probe",
    "default_probe",
    "estimate_probe",
    "smoothing_kernel",
    "smooth_3x3",
    "illuminate",
]


def _check_n(N: int) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or int(N) < 2:
        raise ValueError(f"probe size N must be an integer >= 2; got {N!r}")
    return int(N)


def probe_mask(N: int) -> np.ndarray:
    """Circular mask ``Msk`` (float32 ``(N, N)``), physics §6.2.

    ``Msk[i, j] = 1`` iff ``sqrt((i - N/2 + 0.5)² + (j - N/2 + 0.5)²) < floor(N/4)``: a
    disk centred on the array centre ``(N-1)/2`` (812 pixels for N = 64).
    """
    N = _check_n(N)
    t = np.arange(N, dtype=np.float64) - N / 2 + 0.5
    radius = np.sqrt(t[:, None] ** 2 + t[None, :] ** 2)
    return (radius < np.floor(N / 4)).astype(np.float32)


_circular_mask = probe_mask  # reachable inside illuminate(), whose flag shadows the name


def _as_square_probe(probe: np.ndarray, name: str = "probe") -> np.ndarray:
    """Accept ``(N, N)`` or the legacy ``(N, N, 1)`` layout; return ``(N, N)``."""
    probe = np.asarray(probe)
    if probe.ndim == 3 and probe.shape[-1] == 1:
        probe = probe[..., 0]
    if probe.ndim != 2 or probe.shape[0] != probe.shape[1]:
        raise ValueError(f"{name} must have shape (N, N) or (N, N, 1); got {probe.shape}")
    return probe


def normalise_probe(probe_raw: np.ndarray, probe_scale: float = 4.0) -> np.ndarray:
    """``P = P_raw / (probe_scale · mean_{N² pixels} |Msk ⊙ P_raw|)`` as complex64 ``(N, N)``.

    The circular mask is used here regardless of the ``probe_mask`` flag (§6.1), so
    afterwards ``mean |Msk ⊙ P| = 1/probe_scale``.  ``(N, N, 1)`` input is accepted.
    """
    probe_raw = _as_square_probe(probe_raw, "probe_raw")
    scale = float(probe_scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"probe_scale must be a finite number > 0; got {probe_scale!r}")
    values = probe_raw.astype(np.complex128)
    if not np.all(np.isfinite(values)):
        raise ValueError("probe_raw contains NaN or infinite values")
    masked_mean = float(np.mean(np.abs(probe_mask(probe_raw.shape[0]) * values)))
    if masked_mean <= 0:
        raise ValueError(
            f"probe_raw is zero everywhere inside the circular mask (radius {probe_raw.shape[0] // 4} px); "
            "it cannot be normalised"
        )
    return (values / (scale * masked_mean)).astype(np.complex64)


def default_probe(N: int) -> np.ndarray:
    """Synthetic default probe (physics §6.3): a blurred binary disk, real float32 ``(N, N)``.

    1-D Gaussian window (std ``N/(0.7·π²)``, centred at ``(N-1)/2``, peak sample 1) →
    outer product thresholded at 0.5 (376 px at N = 64) → ``gaussian_filter`` σ = 1 with
    SciPy defaults (reflect boundary, truncate 4σ) → ``+ 1e-9``.  Only for simulation or
    an explicit request; never a silent stand-in for a missing probe.
    """
    from scipy.ndimage import gaussian_filter

    N = _check_n(N)
    std = N / (0.7 * np.pi**2)
    t = np.arange(N, dtype=np.float64) - (N - 1) / 2
    window = np.exp(-(t**2) / (2 * std**2))
    window /= window.max()
    disk = (np.outer(window, window) > 0.5).astype(np.float64)
    return (gaussian_filter(disk, sigma=1.0) + 1e-9).astype(np.float32)


def estimate_probe(X_train: np.ndarray) -> np.ndarray:
    """Gaussian probe estimated from diffraction amplitudes (physics §6.3), float32 ``(N, N)``.

    The width comes from the autocorrelation-like inverse transform of the mean pattern.
    The result is masked and rescaled to the default probe's sum but NOT yet normalised:
    apply :func:`normalise_probe` (§6.1) before use, as ``set_probe_guess`` does.
    ``X_train``: ``(B, N, N, C)``, ``(B, N, N)`` or ``(N, N)``.
    """
    X = np.asarray(X_train, dtype=np.float64)
    if X.ndim == 4:
        mean_pattern = X.mean(axis=(0, 3))
    elif X.ndim == 3:
        mean_pattern = X.mean(axis=0)
    elif X.ndim == 2:
        mean_pattern = X
    else:
        raise ValueError(f"X_train must be (B, N, N, C), (B, N, N) or (N, N); got shape {X.shape}")
    if mean_pattern.shape[0] != mean_pattern.shape[1]:
        raise ValueError(f"X_train patterns must be square; got {mean_pattern.shape}")
    N = mean_pattern.shape[0]
    real_space = np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(mean_pattern))))
    row = real_space[N // 2]
    total = row.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError("cannot estimate a probe from X_train: its mean pattern is zero or not finite")
    weights = row / total
    k = np.arange(N, dtype=np.float64)
    sigma = float(np.sqrt(np.sum(weights * (k - N / 2) ** 2)))
    if sigma <= 0:
        raise ValueError("cannot estimate a probe from X_train: estimated width is zero")
    t = k - (N / 2 - 0.5)
    r2 = t[:, None] ** 2 + t[None, :] ** 2
    probe = (np.exp(-r2 / (2 * sigma**2)) + 1e-9) * probe_mask(N)
    probe *= float(default_probe(N).astype(np.float64).sum()) / probe.sum()
    logger.debug("estimated probe width sigma=%.3f px from %s", sigma, X.shape)
    return probe.astype(np.float32)


def smoothing_kernel(sigma: float) -> np.ndarray:
    """3×3 Gaussian kernel: outer product of ``∝ exp(-t²/(2σ²))``, t ∈ {-1, 0, 1}, sum 1."""
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"gaussian_smoothing_sigma must be > 0 to build a kernel; got {sigma!r}")
    t = np.array([-1.0, 0.0, 1.0])
    w = np.exp(-(t**2) / (2 * sigma**2))
    w /= w.sum()
    return np.outer(w, w)


def smooth_3x3(images: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth the last two axes with the §6.2 kernel, reflect padding without edge repeat.

    "Edge pixel not repeated" is ``numpy.pad(mode='reflect')`` (``c b | a b c``), i.e.
    SciPy's ``mode='mirror'`` and TF's ``REFLECT`` — not SciPy's ``'reflect'``, which
    repeats the edge.  Complex input is smoothed as real and imaginary parts (the kernel
    is real, so this is one complex weighted sum).
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"smooth_3x3 expects (..., H, W) images; got shape {images.shape}")
    if images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"smooth_3x3 needs images of at least 2x2 pixels; got {images.shape}")
    kernel = smoothing_kernel(sigma)
    width = [(0, 0)] * (images.ndim - 2) + [(1, 1), (1, 1)]
    padded = np.pad(images, width, mode="reflect")
    h, w = images.shape[-2:]
    real_dtype = np.float32 if images.dtype in (np.float32, np.complex64) else np.float64
    out = np.zeros(images.shape, dtype=np.result_type(images.dtype, real_dtype))
    for di in range(3):
        for dj in range(3):
            out += real_dtype(kernel[di, dj]) * padded[..., di : di + h, dj : dj + w]
    return out


def illuminate(
    patches: np.ndarray,
    probe: np.ndarray,
    gaussian_smoothing_sigma: float = 0.0,
    probe_mask: bool = False,
) -> np.ndarray:
    """Illuminated patches ``ψ`` (physics §6.2), in this order:

    1. ``ψ = P ⊙ Z`` (``patches``: ``(K, N, N)`` complex, ``probe``: ``(N, N)``);
    2. if ``σ > 0``: 3×3 Gaussian smoothing (:func:`smooth_3x3`);
    3. if ``probe_mask``: ``ψ ← ψ ⊙ Msk``.

    Argument names match the ``ModelConfig`` fields.
    """
    patches = np.asarray(patches)
    probe = _as_square_probe(probe)
    if patches.ndim != 3 or patches.shape[1:] != probe.shape:
        raise ValueError(
            f"patches must be (K, N, N) matching the probe {probe.shape}; got shape {patches.shape}"
        )
    sigma = float(gaussian_smoothing_sigma)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"gaussian_smoothing_sigma must be >= 0; got {gaussian_smoothing_sigma!r}")
    psi = patches * probe[None]
    if sigma > 0:
        psi = smooth_3x3(psi, sigma)
    if probe_mask:
        psi = psi * _circular_mask(probe.shape[0])[None].astype(psi.real.dtype)
    return psi
