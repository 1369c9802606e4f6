"""Strict JSON for archive metadata: plain scalars and lists in, no code out.

Writing converts NumPy scalars and ``Path`` objects, and encodes non-finite floats as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (standard JSON has no such
numbers, and a diverged training run can still produce them in its loss history).
Reading uses :func:`json.loads` only, refuses the non-standard ``NaN``/``Infinity``
literals and duplicate object keys (two parsers could disagree on which one wins), and
decodes the non-finite tokens only where a number is expected.
"""

from __future__ import annotations

import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np

NONFINITE_TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def to_json_value(value: Any, where: str, *, allow_vectors: bool = False) -> Any:
    """Convert ``value`` into JSON scalars / lists / string-keyed objects.

    ``where`` names the key path for error messages. ``allow_vectors`` accepts 1-D
    numeric NumPy arrays as lists (per-epoch histories); otherwise arrays are refused
    because arrays belong in ``.npy`` members (§7.3).
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _encode_float(float(value))
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: JSON object keys must be strings, found key {key!r}")
            out[key] = to_json_value(item, f"{where}.{key}", allow_vectors=allow_vectors)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_value(item, f"{where}[{i}]", allow_vectors=allow_vectors) for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return to_json_value(value.item(), where, allow_vectors=allow_vectors)
        if allow_vectors and value.ndim == 1 and value.dtype.kind in "biuf":
            return [to_json_value(item, f"{where}[{i}]") for i, item in enumerate(value.tolist())]
        raise ValueError(
            f"{where}: found a NumPy array of shape {value.shape} and dtype {value.dtype}; "
            "expected a JSON scalar or list (arrays are stored as .npy members)"
        )
    raise ValueError(
        f"{where}: found a value of type {type(value).__name__}; expected a JSON scalar, list or "
        "string-keyed dict"
    )


def dumps(value: Any) -> bytes:
    """Serialise an already converted value (UTF-8, ASCII-escaped, no NaN literals)."""
    return (json.dumps(value, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name!r}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            raise ValueError(f"duplicate JSON key {key!r}")
        out[key] = item
    return out


def loads(data: bytes, member: str) -> Any:
    """Parse strict JSON from ``data``; every failure is a ``ValueError`` naming ``member``."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"archive member '{member}' is not valid JSON: {exc}") from None


def decode_number(value: Any, where: str) -> float:
    """A JSON number or one of the non-finite tokens → float; anything else is an error."""
    if isinstance(value, str) and value in NONFINITE_TOKENS:
        return NONFINITE_TOKENS[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: found {value!r}; expected a number")
    return float(value)
