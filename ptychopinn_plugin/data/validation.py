"""Canonicalisation and validation of dataset arrays (data spec §1.3–§1.5, §1.7).

Each function takes raw user/file input and returns the canonical in-memory form
(float32 amplitude ``(M, N, N)``, complex64 ``(N, N)`` probe, float64 coordinates, …)
or raises the exception the validation table of data §1.7 prescribes.  ``source``
(a file path or a constructor name) is put into every message so users can tell
which input was wrong.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.config import require_supported_n

logger = logging.getLogger(__name__)

DIFFRACTION_DOMAINS = ("amplitude", "intensity", "auto")
_CHUNK_ELEMENTS = 1 << 23  # rows per pass keep float64 temporaries at ~64 MiB


def check_domain(domain: str) -> str:
    if domain not in DIFFRACTION_DOMAINS:
        raise ValueError(
            f"diffraction_domain = {domain!r} is invalid; allowed: one of {DIFFRACTION_DOMAINS}"
        )
    return domain


def canonical_coords(
    xcoords: Any, ycoords: Any, xcoords_start: Any = None, ycoords_start: Any = None, *,
    source: str = "RawData",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """float64 1-D coordinate arrays of one common length; ``*_start`` default to the true ones."""
    arrays = {"xcoords": xcoords, "ycoords": ycoords,
              "xcoords_start": xcoords if xcoords_start is None else xcoords_start,
              "ycoords_start": ycoords if ycoords_start is None else ycoords_start}
    out: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{source}: {name} must be a real numeric array; got dtype {arr.dtype}")
        out[name] = arr.astype(np.float64, copy=False)
    shapes = {name: arr.shape for name, arr in out.items()}
    if any(arr.ndim != 1 for arr in out.values()) or len({arr.shape for arr in out.values()}) != 1:
        raise ValueError(
            f"{source}: coordinate arrays must be 1-D and of equal length; got shapes "
            + ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        )
    for name, arr in out.items():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{source}: {name} holds {bad} non-finite value(s)")
    return out["xcoords"], out["ycoords"], out["xcoords_start"], out["ycoords_start"]


def resolve_diffraction_layout(array: Any, m: int, *, source: str = "RawData",
                               key: str = "diffraction") -> np.ndarray:
    """Return the patterns as ``(M, N, N)`` (data §1.3).

    ``(M, N, N, 1)`` is squeezed; legacy ``(N, N, M)`` is transposed (with a WARNING)
    only when unambiguous (``shape[0] != M`` and ``shape[2] == M``); anything else
    raises ``ValueError`` with the shape and ``M``.
    """
    arr = np.asarray(array)
    observed = arr.shape
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(
            f"{source}: {key} has shape {observed}; expected (M, N, N) with M = len(xcoords) = {m}"
        )
    if arr.shape[0] != m:
        if arr.shape[2] == m:
            logger.warning(
                "%s: %s has legacy layout (N, N, M) = %s (finding FORMAT-001); transposing to (M, N, N)",
                source, key, observed,
            )
            arr = np.ascontiguousarray(np.transpose(arr, (2, 0, 1)))
        else:
            raise ValueError(
                f"{source}: {key} layout not resolvable: shape {observed} matches neither "
                f"(M, N, N) nor legacy (N, N, M) with M = len(xcoords) = {m}"
            )
    if arr.shape[1] != arr.shape[2]:
        raise ValueError(
            f"{source}: {key} patterns are non-square: shape {observed} (resolved {arr.shape}); "
            "expected (M, N, N)"
        )
    return arr


def decide_domain(dtype: np.dtype, domain: str, metadata: Mapping[str, Any] | None, *,
                  source: str = "RawData") -> str:
    """Resolve ``'auto'`` to ``'amplitude'`` or ``'intensity'`` (data §1.4), logging why."""
    check_domain(domain)
    if domain != "auto":
        return domain
    declared = (metadata or {}).get("diffraction_domain")
    if declared is not None:
        if declared not in ("amplitude", "intensity"):
            raise ValueError(
                f"{source}: _metadata.diffraction_domain = {declared!r} is invalid; "
                "allowed: 'amplitude' or 'intensity'"
            )
        logger.warning("%s: diffraction_domain='auto' → %r (from _metadata.diffraction_domain)",
                       source, declared)
        return str(declared)
    decided = "intensity" if np.issubdtype(dtype, np.integer) else "amplitude"
    logger.warning(
        "%s: diffraction_domain='auto' → %r (data dtype %s: integer = photon counts, float = amplitude)",
        source, decided, dtype,
    )
    return decided


def to_amplitude(patterns: np.ndarray, domain: str, *, metadata: Mapping[str, Any] | None = None,
                 source: str = "RawData", key: str = "diffraction") -> np.ndarray:
    """Canonical float32 amplitude from ``(M, N, N)`` data in the given domain (data §1.4).

    Integers are cast to float64 before any arithmetic (finding
    NORMALIZE-DATA-UINT16-001); intensities become ``sqrt(max(I, 0))`` computed in
    float64.  Work is done in row chunks so the float64 temporaries stay small.
    Then the values are validated (non-finite / negative / all zero → ``ValueError``).
    """
    if patterns.dtype.kind not in "iuf":
        raise ValueError(
            f"{source}: {key} must hold real numbers (amplitude or counts); got dtype {patterns.dtype}"
        )
    resolved = decide_domain(patterns.dtype, domain, metadata, source=source)
    if resolved == "amplitude" and np.issubdtype(patterns.dtype, np.integer):
        logger.warning(
            "%s: %s holds integers (%s), which are normally photon counts (intensity, data spec §1.4), but "
            "they are read as AMPLITUDE because diffraction_domain = %r. If these are counts, pass "
            "--diffraction_domain intensity (or auto; API: diffraction_domain='intensity') — reading counts "
            "as amplitudes distorts every pattern",
            source, key, patterns.dtype, domain,
        )
    if resolved == "amplitude" and patterns.dtype == np.float32:
        out = patterns
    else:
        out = np.empty(patterns.shape, dtype=np.float32)
        for rows in _row_chunks(patterns):
            chunk = patterns[rows].astype(np.float64)
            if resolved == "intensity":
                np.maximum(chunk, 0.0, out=chunk)
                np.sqrt(chunk, out=chunk)
            out[rows] = chunk
    check_amplitude_values(out, source=source, key=key)
    return out


def check_amplitude_values(amplitude: np.ndarray, *, source: str = "RawData", key: str = "diffraction") -> None:
    """Non-finite or negative amplitudes, or an all-zero set → ``ValueError`` (data §1.4)."""
    non_finite = 0
    negative = 0
    any_nonzero = False
    for rows in _row_chunks(amplitude):
        chunk = amplitude[rows]
        non_finite += int(np.count_nonzero(~np.isfinite(chunk)))
        negative += int(np.count_nonzero(chunk < 0))
        any_nonzero = any_nonzero or bool(np.any(chunk != 0))
    if non_finite or negative:
        raise ValueError(
            f"{source}: {key} amplitude has {non_finite} NaN/Inf pixel(s) and {negative} negative "
            f"pixel(s) ({non_finite + negative} offending of {amplitude.size}); amplitudes must be "
            "finite and >= 0"
        )
    if not any_nonzero:
        raise ValueError(
            f"{source}: {key} is all zeros ({amplitude.shape[0]} patterns); normalisation would "
            "divide by zero"
        )


def _row_chunks(array: np.ndarray) -> list[slice]:
    if array.ndim == 0 or array.shape[0] == 0:
        return [slice(None)]
    per_row = max(1, int(np.prod(array.shape[1:])))
    step = max(1, _CHUNK_ELEMENTS // per_row)
    return [slice(start, min(start + step, array.shape[0])) for start in range(0, array.shape[0], step)]


def canonical_probe(probe: Any, n: int | None, *, source: str = "RawData") -> np.ndarray:
    """complex64 ``(N, N)`` probe per data §1.5.

    ``(N, N, 1)`` and ``(1, N, N)`` are squeezed; a ``(P, N, N)`` mode stack keeps the
    mode with the largest power (WARNING with the discarded power fraction) because the
    model is single-mode.  Side ≠ ``N`` or ``mean|P| == 0`` → ``ValueError``.
    ``n=None`` (no diffraction data) only requires a square probe.
    """
    arr = np.asarray(probe)
    observed = arr.shape
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"{source}: probeGuess must be numeric (complex); got dtype {arr.dtype}")
    arr = arr.astype(np.complex64, copy=False)
    if arr.ndim == 3 and arr.shape[-1] == 1 and arr.shape[0] == arr.shape[1] and arr.shape[0] != 1:
        arr = arr[..., 0]
    elif arr.ndim == 3:
        if arr.shape[0] == 1:
            arr = arr[0]
        else:
            power = np.sum(np.abs(arr.astype(np.complex128)) ** 2, axis=(1, 2))
            best = int(np.argmax(power))
            total = float(np.sum(power))
            discarded = 0.0 if total == 0 else 1.0 - float(power[best]) / total
            logger.warning(
                "%s: probeGuess is a %d-mode stack %s; the model is single-mode, using mode %d "
                "(largest power) and discarding %.4f of the total probe power",
                source, arr.shape[0], observed, best, discarded,
            )
            arr = arr[best]
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        expected = f"({n}, {n})" if n is not None else "(N, N)"
        raise ValueError(
            f"{source}: probeGuess has shape {observed}; expected {expected} "
            "(also accepted: (N, N, 1) and (P, N, N))"
        )
    if n is not None and arr.shape != (n, n):
        raise ValueError(
            f"{source}: probeGuess is {arr.shape} (given {observed}) but diffraction patterns are "
            f"{n}×{n}; expected probe shape ({n}, {n})"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{source}: probeGuess holds non-finite values")
    if float(np.mean(np.abs(arr))) == 0.0:
        raise ValueError(f"{source}: probeGuess is identically zero (mean|P| == 0)")
    return np.ascontiguousarray(arr)


def canonical_object(object_guess: Any, *, source: str = "RawData") -> np.ndarray | None:
    """complex64 ``(H, W)`` object or None; anything not 2-D → ``ValueError``."""
    if object_guess is None:
        return None
    arr = np.asarray(object_guess)
    if arr.ndim != 2:
        raise ValueError(f"{source}: objectGuess must be 2-D (H, W); got shape {arr.shape}")
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"{source}: objectGuess must be numeric (complex); got dtype {arr.dtype}")
    return arr.astype(np.complex64, copy=False)


def canonical_Y(y: Any, m: int, n: int | None, *, source: str = "RawData") -> np.ndarray | None:
    """complex64 ``(M, N, N)`` ground-truth patches, or None.

    A first axis ≠ M is the original's "ignore Y" case: WARNING and None (data §1.7).
    Patches of the wrong size are a hard error (they could never be used).
    """
    if y is None:
        return None
    arr = np.asarray(y)
    observed = arr.shape
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ValueError(f"{source}: Y has shape {observed}; expected (M, N, N) or (M, N, N, 1)")
    if arr.shape[0] != m:
        logger.warning(
            "%s: Y has shape %s whose first axis is not M = %d; ignoring Y (original behaviour)",
            source, observed, m,
        )
        return None
    if arr.shape[1] != arr.shape[2] or (n is not None and arr.shape[1] != n):
        raise ValueError(
            f"{source}: Y has shape {observed}; expected ({m}, {n or 'N'}, {n or 'N'}) matching the "
            "diffraction patterns"
        )
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"{source}: Y must be numeric (complex); got dtype {arr.dtype}")
    return arr.astype(np.complex64, copy=False)


def canonical_scan_index(scan_index: Any, m: int, *, source: str = "RawData") -> np.ndarray:
    """int64 ``(M,)``; None → zeros; length ≠ M → ``ValueError`` with both lengths."""
    if scan_index is None:
        return np.zeros(m, dtype=np.int64)
    arr = np.asarray(scan_index)
    if arr.ndim == 0:
        arr = np.full(m, arr.item())
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(
            f"{source}: scan_index has length {arr.shape[0] if arr.ndim else 0} (shape {arr.shape}) "
            f"but there are M = {m} positions (len(xcoords))"
        )
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    raise ValueError(f"{source}: scan_index must hold integers; got dtype {arr.dtype}")


def require_model_ready(raw: Any, where: str = "model") -> int:
    """Check that data can feed a model: diffraction present and ``N ∈ {64, 128, 256}``.

    Called where a model is built or trained (data §1.7); loading other sizes is fine.
    Accepts a ``RawData`` (or anything with ``diff3d``) or an integer ``N``; returns N.
    """
    if isinstance(raw, (int, np.integer)) and not isinstance(raw, bool):
        n = int(raw)
    else:
        diff = getattr(raw, "diff3d", None)
        if diff is None:
            raise ValueError(f"cannot build/train a {where}: the data carry no diffraction patterns")
        n = int(diff.shape[-1])
    require_supported_n(n, where)
    return n
