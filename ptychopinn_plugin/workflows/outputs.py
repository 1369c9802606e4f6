"""Writing workflow outputs: ``save_outputs`` (api spec §6.3) and reconstruction files.

``reconstruction.npz`` carries, besides ``amplitude``, ``phase`` and ``object``, the
canvas geometry of physics §10 item 6 (``canvas_com`` = ``(x, y)`` of the mean group
centre, ``canvas_size`` = ``P``), so ``ptychopinn-evaluate --reconstruction`` can crop
the ground truth to the canvas footprint without guessing.  All files are written
atomically.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from ptychopinn_plugin.util.atomic import atomic_savez, atomic_write_text
from ptychopinn_plugin.workflows.plots import save_image_png

logger = logging.getLogger(__name__)

__all__ = [
    "AMPLITUDE_PNG",
    "PHASE_PNG",
    "RECONSTRUCTION_NPZ",
    "HISTORY_JSON",
    "save_outputs",
    "save_reconstruction",
    "write_history",
    "com_from_offsets",
]

AMPLITUDE_PNG = "reconstructed_amplitude.png"
PHASE_PNG = "reconstructed_phase.png"
RECONSTRUCTION_NPZ = "reconstruction.npz"
HISTORY_JSON = "history.json"


def com_from_offsets(global_offsets: Any) -> Optional[tuple[float, float]]:
    """Mean group centre ``(x, y)`` of ``(B, 1, 2, 1)`` offsets (the stitcher's ``com``), or None."""
    if global_offsets is None:
        return None
    q = np.asarray(global_offsets, dtype=np.float64)
    if q.ndim != 4 or q.shape[0] == 0 or q.shape[1:] not in ((1, 2, 1), (1, 1, 2)):
        return None
    q = q.reshape(q.shape[0], 2)
    com = q.mean(axis=0)
    return float(com[0]), float(com[1])


def write_history(history: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """``history.json``: ``{"<loss name>": [per-epoch values], …}`` (the archive's layout).

    Non-finite values are written as the strings ``"NaN"``/``"Infinity"``/``"-Infinity"``
    (JSON has no such numbers; the archive uses the same tokens).
    """
    from ptychopinn_plugin.archive.jsonio import to_json_value

    doc = to_json_value({str(k): list(np.asarray(v, dtype=np.float64).reshape(-1)) for k, v in history.items()},
                        "history", allow_vectors=True)
    path = Path(path)
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return path


def save_reconstruction(amplitude: np.ndarray, phase: np.ndarray, output_dir: str | os.PathLike[str], *,
                        canvas_com: Optional[tuple[float, float]] = None, title_suffix: str = "",
                        extra_arrays: Optional[Mapping[str, np.ndarray]] = None) -> dict[str, Path]:
    """The two PNGs and ``reconstruction.npz`` for 2-D ``amplitude``/``phase``.

    ``extra_arrays`` go into the NPZ as well (e.g. the data-consistency map, ``misfit_*``);
    they may not replace the core keys.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    amp = np.squeeze(np.asarray(amplitude, dtype=np.float32))
    ph = np.squeeze(np.asarray(phase, dtype=np.float32))
    if amp.ndim != 2 or amp.shape != ph.shape:
        raise ValueError(f"amplitude and phase must be equal 2-D images; got {amp.shape} and {ph.shape}")
    written = {
        "amplitude_png": save_image_png(amp, output_dir / AMPLITUDE_PNG, phase=False,
                                        title="reconstructed amplitude" + title_suffix),
        "phase_png": save_image_png(ph, output_dir / PHASE_PNG, phase=True, title="reconstructed phase" + title_suffix),
    }
    arrays: dict[str, np.ndarray] = {
        "amplitude": amp,
        "phase": ph,
        "object": (amp * np.exp(1j * ph.astype(np.float64))).astype(np.complex64),
        "canvas_size": np.int64(amp.shape[0]),
    }
    if canvas_com is not None:
        arrays["canvas_com"] = np.asarray(canvas_com, dtype=np.float64)
    for key, value in (extra_arrays or {}).items():
        if key in arrays:
            raise ValueError(f"extra array {key!r} would replace a core key of {RECONSTRUCTION_NPZ}")
        arrays[key] = np.asarray(value)
    atomic_savez(output_dir / RECONSTRUCTION_NPZ, **arrays)
    written["reconstruction"] = output_dir / RECONSTRUCTION_NPZ
    return written


def save_outputs(amplitude: Optional[np.ndarray], phase: Optional[np.ndarray], results: Mapping[str, Any],
                 output_prefix: str | os.PathLike[str]) -> dict[str, Path]:
    """api spec §6.3: create ``output_prefix``; PNGs + ``reconstruction.npz`` when
    ``amplitude``/``phase`` are given; ``history.json`` whenever ``results['history']`` exists.

    The canvas centre stored in ``reconstruction.npz`` is the mean of
    ``results['global_offsets']`` (the offsets the image was stitched with), when present.
    Returns the written paths by role.
    """
    output_dir = Path(output_prefix)
    output_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if amplitude is not None and phase is not None:
        written.update(save_reconstruction(amplitude, phase, output_dir,
                                           canvas_com=com_from_offsets((results or {}).get("global_offsets"))))
    elif (amplitude is None) != (phase is None):
        raise ValueError("save_outputs needs both amplitude and phase, or neither")
    history = (results or {}).get("history")
    if history:
        written["history"] = write_history(history, output_dir / HISTORY_JSON)
    logger.info("saved outputs to %s: %s", output_dir, ", ".join(sorted(p.name for p in written.values())) or "nothing")
    return written
