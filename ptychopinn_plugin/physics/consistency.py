"""Data consistency of a reconstruction: how well the object *shown* explains every pattern.

A network reconstruction carries no sign of where it is wrong, and at the beamline there
is no ground truth to compare with.  The measured diffraction is the check: re-extract
the displayed object at every scan position, illuminate it with the probe, propagate it
with the model's own far-field operator (physics §6.2, §8) and compare the predicted
pattern with the measured one.  Where the misfit is at the Poisson noise level the
reconstruction explains the data; where it is high, it does not (or the data are unlike
anything the network was trained on).

Conventions (docs/workflows.md, "Data consistency"):

* ``y`` = measured counts: ``diffraction²`` (data spec §1.4: the canonical array holds
  ``sqrt(counts)``).  With ``photons_per_pattern`` the counts are rescaled so that
  ``mean Σ y`` equals it — the count domain the model's Poisson loss assumed
  (physics §7), for data stored at another scale.
* ``λ = g · |DFT2(P ⊙ O_r)|² / N²`` (fftshift-ed).  One global gain ``g`` for the whole
  scan, the closed-form Poisson maximum-likelihood value ``Σ y / Σ I``: a reconstruction
  is defined up to a global scale (the model's amplitude gauge, physics §6.1), so the map
  measures structure, not the overall scale.  ``g`` is reported.
* Per position: the R-factor ``Σ|sqrt(λ) − sqrt(y)| / Σ sqrt(y)`` and the mean Poisson
  deviance per pixel ``2·mean(y·log(y/λ) − (y − λ))`` (``y·log y = 0`` at ``y = 0``).  For
  a perfect model the deviance per pixel is about 1 where counts are high and smaller
  where they are low; the R-factor of a perfect model is set by the shot noise alone.
* ``coverage``: fraction of the probe's intensity that falls on object pixels the
  reconstruction covers (a stitched canvas is blank beyond its crops); positions with
  low coverage are judged on an object that is partly missing.

NumPy only, float64 internally, processed in chunks of positions.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ptychopinn_plugin.physics.forward import far_field_intensity
from ptychopinn_plugin.physics.probe import illuminate
from ptychopinn_plugin.util.bilinear import extract_patches

logger = logging.getLogger(__name__)

__all__ = ["ConsistencyMap", "data_consistency", "expected_poisson_deviance", "measured_counts",
           "poisson_deviance"]

LAMBDA_FLOOR = 1e-12
"""Floor of the predicted counts inside the logarithm (as the Poisson loss, physics §12.1)."""


@dataclass(frozen=True)
class ConsistencyMap:
    """Per-position misfit between measured and predicted patterns (one row per scan position)."""

    x: np.ndarray
    """Scan positions, object pixels (float64 ``(K,)``)."""
    y: np.ndarray
    r_factor: np.ndarray
    """``Σ|sqrt(λ) − sqrt(y)| / Σ sqrt(y)`` per position (float64 ``(K,)``)."""
    deviance: np.ndarray
    """Mean Poisson deviance per pixel, per position (float64 ``(K,)``)."""
    coverage: np.ndarray
    """Fraction of the probe intensity on covered object pixels, per position (``(K,)``)."""
    deviance_expected: np.ndarray
    """Mean deviance per pixel that Poisson noise alone gives if the prediction were exact
    (:func:`expected_poisson_deviance` of ``λ``), per position: the noise level."""
    gain: float
    """Global gain ``g`` of the predicted counts (Poisson maximum likelihood)."""

    @property
    def n_positions(self) -> int:
        return int(self.x.shape[0])

    @property
    def deviance_ratio(self) -> np.ndarray:
        """Deviance over its noise level per position: about 1 where the object explains the data."""
        return self.deviance / np.maximum(self.deviance_expected, LAMBDA_FLOOR)

    def summary(self) -> dict[str, float]:
        """Scalars for logs and ``metrics.json``: scan-wide R-factor and deviance, median and worst."""
        return {
            "positions": float(self.n_positions),
            "r_factor_median": float(np.median(self.r_factor)),
            "r_factor_max": float(np.max(self.r_factor)),
            "deviance_mean": float(np.mean(self.deviance)),
            "deviance_median": float(np.median(self.deviance)),
            "deviance_max": float(np.max(self.deviance)),
            "deviance_expected_mean": float(np.mean(self.deviance_expected)),
            "deviance_ratio_median": float(np.median(self.deviance_ratio)),
            "deviance_ratio_max": float(np.max(self.deviance_ratio)),
            "coverage_min": float(np.min(self.coverage)),
            "gain": float(self.gain),
        }

    def arrays(self, prefix: str = "misfit_") -> dict[str, np.ndarray]:
        """The documented NPZ/H5 arrays (docs/workflows.md)."""
        return {
            f"{prefix}x": self.x, f"{prefix}y": self.y, f"{prefix}r_factor": self.r_factor,
            f"{prefix}deviance": self.deviance, f"{prefix}deviance_expected": self.deviance_expected,
            f"{prefix}coverage": self.coverage,
            f"{prefix}gain": np.float64(self.gain),
        }


def measured_counts(diffraction: np.ndarray, photons_per_pattern: Optional[float] = None) -> np.ndarray:
    """Counts ``y`` (float64) from canonical amplitudes; optionally rescaled to ``photons_per_pattern``."""
    amplitude = np.asarray(diffraction)
    if amplitude.ndim != 3 or amplitude.shape[1] != amplitude.shape[2]:
        raise ValueError(f"diffraction must be (K, N, N) amplitudes; got shape {amplitude.shape}")
    counts = amplitude.astype(np.float64) ** 2
    if photons_per_pattern is not None:
        photons = float(photons_per_pattern)
        if not np.isfinite(photons) or photons <= 0:
            raise ValueError(f"photons_per_pattern must be a finite number > 0; got {photons_per_pattern!r}")
        mean_total = float(counts.sum(axis=(1, 2)).mean())
        if mean_total <= 0:
            raise ValueError("diffraction is all zero; counts cannot be rescaled")
        counts *= photons / mean_total
    return counts


def poisson_deviance(counts: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-pixel deviance ``2·(y·log(y/λ) − (y − λ))`` (float64, same shape)."""
    y = np.asarray(counts, dtype=np.float64)
    lam = np.maximum(np.asarray(predicted, dtype=np.float64), LAMBDA_FLOOR)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / lam), 0.0)
    return 2.0 * (y_log - (y - lam))


_TABLE_MAX = 1e3
"""Above this mean count the asymptotic ``1 + 1/(6λ) + 1/(6λ²)`` is exact to < 1e-4."""

INTENSITY_CACHE_BYTES = 256 * 2**20
"""Up to this size the predicted intensities of the first pass are kept for the second
(else recomputed chunk by chunk, so memory stays bounded on very large scans)."""


@functools.lru_cache(maxsize=1)
def _expected_deviance_table() -> tuple[np.ndarray, np.ndarray]:
    """``E[dev]`` on a log grid of ``λ`` by direct summation over the Poisson distribution (computed once)."""
    from scipy.stats import poisson

    grid = np.logspace(-8, np.log10(_TABLE_MAX), 600)
    values = np.empty_like(grid)
    for i, lam in enumerate(grid):
        counts = np.arange(0, int(lam + 12 * np.sqrt(lam) + 30))
        values[i] = float(np.sum(poisson.pmf(counts, lam) * poisson_deviance(counts, np.full(counts.shape, lam))))
    return np.log(grid), values


def expected_poisson_deviance(predicted: np.ndarray) -> np.ndarray:
    """``E[2(y·log(y/λ) − (y − λ))]`` for ``y ~ Poisson(λ)``: the deviance of an exact model.

    About 1 for large ``λ``, smaller for faint pixels (→ 0 as ``λ → 0``).  Tabulated once
    by summation (``λ ≤ 1e3``), asymptotic above.
    """
    lam = np.asarray(predicted, dtype=np.float64)
    log_grid, values = _expected_deviance_table()
    small = np.interp(np.log(np.clip(lam, 1e-8, _TABLE_MAX)), log_grid, values)
    safe = np.maximum(lam, 1.0)
    large = 1.0 + 1.0 / (6.0 * safe) + 1.0 / (6.0 * safe**2)
    return np.where(lam > _TABLE_MAX, large, np.where(lam < 1e-8, lam * values[0] / 1e-8, small))


def _check_inputs(obj: np.ndarray, xcoords: np.ndarray, ycoords: np.ndarray, diffraction: np.ndarray,
                  probe: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    obj = np.asarray(obj)
    if obj.ndim == 3 and obj.shape[-1] == 1:
        obj = obj[..., 0]
    if obj.ndim != 2:
        raise ValueError(f"object must be a 2-D complex image; got shape {obj.shape}")
    x = np.asarray(xcoords, dtype=np.float64).reshape(-1)
    y = np.asarray(ycoords, dtype=np.float64).reshape(-1)
    diffraction = np.asarray(diffraction)
    probe = np.asarray(probe)
    if x.shape != y.shape or diffraction.ndim != 3 or diffraction.shape[0] != x.shape[0]:
        raise ValueError(
            f"need one pattern per scan position: {x.shape[0]} x, {y.shape[0]} y coordinates and diffraction "
            f"of shape {diffraction.shape}"
        )
    if probe.shape != diffraction.shape[1:]:
        raise ValueError(f"probe {probe.shape} does not match the patterns {diffraction.shape[1:]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("scan positions contain NaN or infinite values")
    return obj, x, y, diffraction


def predicted_intensity(obj: np.ndarray, origin_xy: tuple[float, float], xcoords: np.ndarray,
                        ycoords: np.ndarray, probe: np.ndarray, *, gaussian_smoothing_sigma: float = 0.0,
                        probe_mask: bool = False) -> np.ndarray:
    """``|DFT2(P ⊙ O_r)|² / N²`` (fftshift-ed, float64) of ``obj`` at the positions, gain 1.

    ``origin_xy``: object coordinates of pixel ``(0, 0)`` of ``obj`` (a stitched canvas:
    ``StitchGeometry.origin_xy``; an ``objectGuess``: ``(0, 0)``).
    """
    n = int(np.asarray(probe).shape[0])
    patches = extract_patches(np.asarray(obj).astype(np.complex128, copy=False),
                              np.asarray(xcoords, dtype=np.float64) - origin_xy[0],
                              np.asarray(ycoords, dtype=np.float64) - origin_xy[1], n)
    psi = illuminate(patches, np.asarray(probe).astype(np.complex128), gaussian_smoothing_sigma, probe_mask)
    return far_field_intensity(psi, shift=True)


def data_consistency(obj: np.ndarray, origin_xy: tuple[float, float], xcoords: np.ndarray, ycoords: np.ndarray,
                     diffraction: np.ndarray, probe: np.ndarray, *, gaussian_smoothing_sigma: float = 0.0,
                     probe_mask: bool = False, photons_per_pattern: Optional[float] = None,
                     chunk: int = 512) -> ConsistencyMap:
    """The :class:`ConsistencyMap` of ``obj`` against the measured ``diffraction`` amplitudes.

    ``obj``: 2-D complex (``(H, W)`` or ``(H, W, 1)``); ``origin_xy`` as in
    :func:`predicted_intensity`; ``xcoords``/``ycoords``: ``(K,)`` object pixels;
    ``diffraction``: ``(K, N, N)`` canonical amplitudes; ``probe``: the ``(N, N)`` probe the
    object was reconstructed with (its normalisation does not matter: ``g`` absorbs it).
    """
    obj, x, y, diffraction = _check_inputs(obj, xcoords, ycoords, diffraction, probe)
    if isinstance(chunk, bool) or int(chunk) < 1:
        raise ValueError(f"chunk must be a positive integer; got {chunk!r}")
    origin = (float(origin_xy[0]), float(origin_xy[1]))
    counts = measured_counts(diffraction, photons_per_pattern)
    k = x.shape[0]
    n = int(diffraction.shape[1])
    covered = (np.abs(obj) > 0).astype(np.float64)
    probe_intensity = np.abs(np.asarray(probe, dtype=np.complex128)) ** 2
    intensity_total = float(probe_intensity.sum()) or 1.0
    # First pass: the predicted intensities' totals fix the global gain.  The second pass
    # needs the intensities again: kept when they are small, recomputed otherwise.
    predicted_sum = np.empty(k)
    coverage = np.empty(k)
    kept: Optional[list[np.ndarray]] = [] if k * n * n * 8 <= INTENSITY_CACHE_BYTES else None

    def intensity_of(start: int, stop: int) -> np.ndarray:
        return predicted_intensity(obj, origin, x[start:stop], y[start:stop], probe,
                                   gaussian_smoothing_sigma=gaussian_smoothing_sigma, probe_mask=probe_mask)

    for start in range(0, k, int(chunk)):
        stop = min(start + int(chunk), k)
        intensity = intensity_of(start, stop)
        if kept is not None:
            kept.append(intensity)
        predicted_sum[start:stop] = intensity.sum(axis=(1, 2))
        lit = extract_patches(covered, x[start:stop] - origin[0], y[start:stop] - origin[1], n)
        coverage[start:stop] = (lit * probe_intensity[None]).sum(axis=(1, 2)) / intensity_total
    total_predicted = float(predicted_sum.sum())
    if total_predicted <= 0:
        raise ValueError("the object predicts no photons at any scan position (is it all zero, or outside the scan?)")
    gain = float(counts.sum()) / total_predicted
    r_factor = np.empty(k)
    deviance = np.empty(k)
    expected = np.empty(k)
    for index, start in enumerate(range(0, k, int(chunk))):
        stop = min(start + int(chunk), k)
        lam = gain * (kept[index] if kept is not None else intensity_of(start, stop))
        measured = counts[start:stop]
        root = np.sqrt(measured)
        r_factor[start:stop] = (np.abs(np.sqrt(lam) - root).sum(axis=(1, 2))
                                / np.maximum(root.sum(axis=(1, 2)), LAMBDA_FLOOR))
        deviance[start:stop] = poisson_deviance(measured, lam).mean(axis=(1, 2))
        expected[start:stop] = expected_poisson_deviance(lam).mean(axis=(1, 2))
    result = ConsistencyMap(x=x, y=y, r_factor=r_factor, deviance=deviance, coverage=coverage,
                            deviance_expected=expected, gain=gain)
    logger.info("data consistency over %d positions: R-factor median %.4f (max %.4f), deviance per pixel mean %.4g",
                k, *(result.summary()[key] for key in ("r_factor_median", "r_factor_max", "deviance_mean")))
    return result
