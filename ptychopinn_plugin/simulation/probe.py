"""A realistic, known probe: a defocused circular pupil (physics spec §6).

A focused X-ray beam is the Fourier transform of a circular aperture (pupil); moving
the sample out of focus adds a quadratic phase across the pupil.  We build the probe
exactly that way, so it has the Airy/Fresnel ringing and curved phase of a real
defocused probe rather than the flat disk of the legacy synthetic probe (§6.3), which
makes the reconstruction problem harder in the right way.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def probe_mask(N: int) -> np.ndarray:
    """Circular mask of physics §6.2: 1 where the distance from (N/2−0.5, N/2−0.5) < floor(N/4)."""
    idx = np.arange(N) - N / 2 + 0.5
    dist = np.sqrt(idx[:, None] ** 2 + idx[None, :] ** 2)
    return (dist < np.floor(N / 4)).astype(np.float64)


def normalise_probe(probe: np.ndarray, probe_scale: float = 4.0) -> np.ndarray:
    """Physics §6.1: ``P / (probe_scale · mean |Msk ⊙ P|)`` (mean over all N² pixels).

    The pipeline re-applies this normalisation (it is idempotent), so storing the
    normalised probe means the file's probe is exactly the probe the model will use.
    """
    probe = np.asarray(probe)
    if probe.ndim != 2 or probe.shape[0] != probe.shape[1]:
        raise ValueError(f"probe must be a square 2-D array; got shape {probe.shape}")
    denom = probe_scale * np.mean(np.abs(probe_mask(probe.shape[0]) * probe))
    if not np.isfinite(denom) or denom == 0:
        raise ValueError(f"cannot normalise probe: mean |Msk·P| = {denom / probe_scale!r}")
    return (probe / denom).astype(np.complex64)


def make_probe(
    N: int,
    *,
    pupil_fraction: float = 0.25,
    radius_fraction: float = 0.14,
    probe_scale: float = 4.0,
) -> np.ndarray:
    """Defocused-pupil probe, ``(N, N)`` complex64, centred on pixel (N/2, N/2), §6.1-normalised.

    * The pupil is a disk of radius ``R = pupil_fraction·N`` frequency pixels (edge
      anti-aliased over one pixel) centred on the zero frequency at (N/2, N/2).
    * Defocus: quadratic pupil phase ``2π·W·(k/R)²``.  Geometric optics says the ray
      through pupil radius k lands at ``x = (N/2π)·dφ/dk = 2·N·W·k/R²``, so the beam
      edge (k = R) lies at ``2·N·W/R``; we choose ``W`` so that this equals
      ``radius_fraction·N``.  ``radius_fraction = 0`` gives the in-focus Airy spot.
    * ``probe = fftshift(ifft2(ifftshift(pupil)))`` puts the beam centre on pixel
      (N/2, N/2), the patch centre of §2.1.
    """
    if N < 8:
        raise ValueError(f"probe size N = {N} is too small; expected at least 8 pixels")
    radius_px = pupil_fraction * N
    freq = np.arange(N) - N / 2
    kr = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    pupil = np.clip(radius_px + 0.5 - kr, 0.0, 1.0)
    waves_at_edge = radius_fraction * radius_px / 2.0
    defocus = 2.0 * np.pi * waves_at_edge * (kr / radius_px) ** 2
    field = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(pupil * np.exp(1j * defocus))))
    logger.debug("probe: pupil radius %.2f px, defocus %.3f waves at the pupil edge", radius_px, waves_at_edge)
    return normalise_probe(field, probe_scale)
