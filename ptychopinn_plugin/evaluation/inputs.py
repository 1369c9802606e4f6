"""Read the two NPZ inputs of ``ptychopinn-evaluate`` (never unpickling anything).

* Reconstruction NPZ: key ``object`` (complex, 2-D or ``(P, P, 1)``/``(1, P, P)``), or the
  pair ``amplitude`` + ``phase`` written by ``save_outputs`` (api spec §6.3).  The canvas
  centre of mass (§10 item 6) is taken, if present, from the key ``canvas_com`` or
  ``com`` (two numbers, x then y) or from the same fields of a ``_metadata`` JSON string.
* Ground truth: the dataset's ``objectGuess`` (data spec §1.1).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from ptychopinn_plugin.data.npz_io import open_npz

logger = logging.getLogger(__name__)

COM_KEYS = ("canvas_com", "com")


def _require_finite(array: np.ndarray, path: Path, key: str) -> None:
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{path}: key '{key}' has non-numeric dtype {array.dtype}; expected numbers")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(f"{path}: key '{key}' holds {bad} NaN/Inf value(s) of {array.size}; expected finite values")


def _read_key(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # object arrays need pickle
        raise ValueError(f"{path}: key '{key}' is an object array; refusing to unpickle") from exc


def load_reconstruction_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Return ``(object, canvas_com)``; ``canvas_com`` is ``(x, y)`` or None when absent."""
    path = Path(path)
    with open_npz(path) as npz:
        keys = set(npz.files)
        if "object" in keys:
            obj = _read_key(npz, "object", path)
            _require_finite(obj, path, "object")
        elif {"amplitude", "phase"} <= keys:
            amplitude, phase = _read_key(npz, "amplitude", path), _read_key(npz, "phase", path)
            _require_finite(amplitude, path, "amplitude")
            _require_finite(phase, path, "phase")
            obj = amplitude * np.exp(1j * phase)
        else:
            raise KeyError(
                f"reconstruction {path} has neither 'object' nor both 'amplitude' and 'phase'; "
                f"keys found: {sorted(keys)}"
            )
        com = None
        for key in COM_KEYS:
            if key in keys:
                com = _as_com(_read_key(npz, key, path), f"{path}:{key}")
                break
        if com is None and "_metadata" in keys:
            com = _com_from_metadata(npz, path)
    return np.asarray(obj), com


def load_ground_truth_npz(path: str | os.PathLike[str]) -> np.ndarray:
    """Return the dataset's ``objectGuess`` (2-D complex)."""
    path = Path(path)
    with open_npz(path) as npz:
        if "objectGuess" not in npz.files:
            raise KeyError(f"dataset {path} has no 'objectGuess' (ground truth) to evaluate against")
        obj = _read_key(npz, "objectGuess", path)
    if obj.ndim != 2:
        raise ValueError(f"{path}: objectGuess must be 2-D; got shape {obj.shape}")
    _require_finite(obj, path, "objectGuess")
    return obj


def _as_com(value: np.ndarray, where: str) -> tuple[float, float]:
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    if flat.size != 2 or not np.all(np.isfinite(flat)):
        raise ValueError(f"{where}: canvas centre of mass must be two finite numbers (x, y); got {value!r}")
    return float(flat[0]), float(flat[1])


def _com_from_metadata(npz: np.lib.npyio.NpzFile, path: Path) -> tuple[float, float] | None:
    try:
        raw = npz["_metadata"]
    except ValueError:
        logger.warning("%s: '_metadata' is an object array (legacy); skipping it without unpickling", path)
        return None
    if raw.dtype.kind != "U":
        logger.warning("%s: '_metadata' is not a unicode string (dtype %s); ignoring it", path, raw.dtype)
        return None
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError:
        logger.warning("%s: '_metadata' is not valid JSON; ignoring it", path)
        return None
    for key in COM_KEYS:
        if isinstance(meta, dict) and key in meta:
            return _as_com(np.asarray(meta[key]), f"{path}:_metadata.{key}")
    return None
