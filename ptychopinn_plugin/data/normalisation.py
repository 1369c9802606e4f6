"""Diffraction normalisation factor (data spec §2.5, physics spec §3).

``f = sqrt((N/2)² / mean_{b,c} Σ_ij diffraction[b,i,j,c]²)`` in float64 over the
grouped data (patterns counted with multiplicity), returned as float32, so that the
normalised amplitudes ``X = f·A`` have mean total intensity ``(N/2)²``.  The factor
only needs per-pattern energies, which is what lets the memory-mapped builder
(data §4) compute it while streaming.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ELEMENTS = 1 << 23


def pattern_energies(patterns: np.ndarray) -> np.ndarray:
    """``e_m = Σ_ij A[m]²`` in float64 for ``(M, N, N)`` amplitudes (chunked over M)."""
    patterns = np.asarray(patterns)
    if patterns.ndim != 3:
        raise ValueError(f"patterns must be (M, N, N); got shape {patterns.shape}")
    m = patterns.shape[0]
    out = np.empty(m, dtype=np.float64)
    step = max(1, _CHUNK_ELEMENTS // max(1, patterns.shape[1] * patterns.shape[2]))
    for start in range(0, m, step):
        chunk = patterns[start:start + step].astype(np.float64)
        out[start:start + step] = np.einsum("mij,mij->m", chunk, chunk)
    return out


def factor_from_energies(energies: np.ndarray, nn_indices: np.ndarray, n: int) -> np.float32:
    """``f`` from per-pattern energies and the group membership (multiplicity counted)."""
    selected = np.asarray(energies, dtype=np.float64)[np.asarray(nn_indices)]
    if selected.size == 0:
        raise ValueError("cannot normalise an empty set of groups")
    mean_energy = float(np.mean(selected))
    if not np.isfinite(mean_energy) or mean_energy <= 0.0:
        raise ValueError(
            f"mean diffraction energy of the grouped patterns is {mean_energy}; cannot normalise "
            "(all selected patterns are zero?)"
        )
    return np.float32(np.sqrt((n / 2.0) ** 2 / mean_energy))


def normalisation_factor(grouped_diffraction: np.ndarray, n: int | None = None) -> np.float32:
    """``f`` directly from grouped amplitudes ``(B, N, N, C)``, float64 sums in chunks of groups."""
    arr = np.asarray(grouped_diffraction)
    if arr.ndim != 4:
        raise ValueError(f"grouped diffraction must be (B, N, N, C); got shape {arr.shape}")
    n = int(arr.shape[1]) if n is None else int(n)
    b = arr.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, int(np.prod(arr.shape[1:]))))
    total = 0.0
    for start in range(0, b, step):
        chunk = arr[start:start + step].astype(np.float64)
        total += float(np.einsum("bijc,bijc->", chunk, chunk))
    count = b * arr.shape[3]
    if count == 0:
        raise ValueError("cannot normalise an empty set of groups")
    mean_energy = total / count
    if not np.isfinite(mean_energy) or mean_energy <= 0.0:
        raise ValueError(
            f"mean diffraction energy of the grouped patterns is {mean_energy}; cannot normalise "
            "(all selected patterns are zero?)"
        )
    return np.float32(np.sqrt((n / 2.0) ** 2 / mean_energy))
