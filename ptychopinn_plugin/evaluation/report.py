"""Write and read ``metrics.json`` / ``metrics.csv`` (atomically).

JSON has no representation for IEEE infinities/NaN (``json.dumps`` would emit the
non-standard tokens ``Infinity``/``NaN``), and a perfect reconstruction legitimately has
``psnr = inf``.  Non-finite numbers are therefore written as the strings ``"inf"``,
``"-inf"`` and ``"nan"``; :func:`read_metrics_json` turns them back into floats.  The CSV
uses Python's float formatting, where the same spellings parse back with ``float()``.

``metrics.json`` layout::

    {"schema": "ptychopinn.metrics/1",
     "metrics": {"mae": {"amplitude": …, "phase": …}, …, "frc": {"amplitude": [...], "phase": [...]}},
     "registration_shift": {"dy": …, "dx": …} | null,
     "info": {…caller-supplied provenance…}}

``metrics.csv``: header ``metric,amplitude,phase`` and one row per scalar metric
(the FRC curves are in the JSON only).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from ptychopinn_plugin.util.atomic import atomic_write_text

SCHEMA = "ptychopinn.metrics/1"
SCALAR_METRICS = ("mae", "mse", "psnr", "psnr_legacy", "ssim", "ms_ssim", "frc50", "frc1over7")
CHANNELS = ("amplitude", "phase")
_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _number(value: Any) -> float | str:
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def metrics_to_jsonable(metrics: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Convert the dict of :func:`eval_reconstruction` to strict-JSON-compatible data."""
    out: dict[str, Any] = {}
    for name in SCALAR_METRICS:
        amp, phase = metrics[name]
        out[name] = {"amplitude": _number(amp), "phase": _number(phase)}
    if "frc" in metrics:
        amp_curve, phase_curve = metrics["frc"]
        out["frc"] = {"amplitude": [_number(v) for v in amp_curve], "phase": [_number(v) for v in phase_curve]}
    shift = metrics.get("registration_shift")
    return {
        "schema": SCHEMA,
        "metrics": out,
        "registration_shift": None if shift is None else {"dy": _number(shift[0]), "dx": _number(shift[1])},
        "info": dict(info or {}),
    }


def write_metrics(
    metrics: Mapping[str, Any], output_dir: str | os.PathLike[str], *, info: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``output_dir/metrics.json`` and ``output_dir/metrics.csv``; returns both paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    doc = metrics_to_jsonable(metrics, info)
    json_path = output_dir / "metrics.json"
    csv_path = output_dir / "metrics.csv"
    atomic_write_text(json_path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", *CHANNELS])
    for name in SCALAR_METRICS:
        writer.writerow([name, *(repr(float(v)) for v in metrics[name])])
    atomic_write_text(csv_path, buffer.getvalue())
    return json_path, csv_path


def read_metrics_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``metrics.json`` and restore ``"inf"``/``"-inf"``/``"nan"`` strings to floats."""
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema is {doc.get('schema')!r}, expected {SCHEMA!r}")
    # Only numeric sections are restored; free-text provenance in "info" is left alone.
    doc["metrics"] = _restore(doc.get("metrics", {}))
    doc["registration_shift"] = _restore(doc.get("registration_shift"))
    return doc


def _restore(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _restore(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v) for v in node]
    if isinstance(node, str) and node in _NONFINITE:
        return _NONFINITE[node]
    return node
