"""A stitched reconstruction and its exports: NPZ, PNG and Ptychodus product (data §6).

Exports write *data*, not screen pixels: the NPZ holds the complex object plus
amplitude/phase and the canvas geometry (the keys of ``reconstruction.npz``, api §6.3),
the PNG is rendered from the arrays at full resolution (phase in a cyclic colormap fixed
to [−π, π]), and the product places the canvas with the data §6.2 centre rule through
``ptychopinn_plugin.io``.  Every file is written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.evaluation.registration import footprint_crop  # imported up front: scipy/skimage are slow
from ptychopinn_plugin.util.atomic import atomic_path, atomic_savez

logger = logging.getLogger(__name__)

__all__ = [
    "PHASE_CMAP",
    "AMPLITUDE_CMAP",
    "Reconstruction",
    "export_npz",
    "export_png",
    "export_product",
    "ground_truth_crop",
    "metric_rows",
]

PHASE_CMAP = "twilight"
AMPLITUDE_CMAP = "gray"
PHASE_LIMITS = (-math.pi, math.pi)


@dataclass
class Reconstruction:
    object: np.ndarray
    """complex64 ``(P, P)`` stitched canvas (uncovered pixels 0)."""
    canvas_com: tuple[float, float]
    """``(x, y)`` object-pixel coordinate of the canvas centre (physics §10)."""
    backend: str
    label: str
    """What produced it (e.g. 'training preview', 'inference')."""
    metrics: Optional[dict[str, Any]] = None
    losses: Optional[list[float]] = None
    archive_sha256: Optional[str] = None
    epoch: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)
    misfit: Optional[dict[str, Any]] = None
    """Data-consistency map (``worker.results.misfit_message``): positions in canvas pixels,
    ``deviance_ratio`` and ``r_factor`` per position, a summary ``text`` and the documented
    ``misfit_*`` arrays; None for training previews."""

    @property
    def amplitude(self) -> np.ndarray:
        return np.abs(self.object).astype(np.float32)

    @property
    def phase(self) -> np.ndarray:
        return np.angle(self.object).astype(np.float32)

    @property
    def canvas_size(self) -> int:
        return int(self.object.shape[0])


def ground_truth_crop(rec: Reconstruction, object_guess: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """The ground truth cropped to the canvas footprint (same shape as the canvas), or None."""
    if object_guess is None:
        return None
    try:
        recon, truth = footprint_crop(rec.object, np.asarray(object_guess), rec.canvas_com)
    except ValueError as exc:
        logger.warning("ground truth not shown: %s", exc)
        return None
    if recon.shape != rec.object.shape:
        padded = np.zeros_like(rec.object)
        # Canvas extends past the object: place the overlap where it belongs on the canvas.
        com_x, com_y = rec.canvas_com
        rows, cols = rec.object.shape
        row0 = math.floor(com_y - rows / 2 + 0.5)
        col0 = math.floor(com_x - cols / 2 + 0.5)
        r_lo, c_lo = max(row0, 0) - row0, max(col0, 0) - col0
        padded[r_lo:r_lo + truth.shape[0], c_lo:c_lo + truth.shape[1]] = truth
        return padded
    return truth


def metric_rows(metrics: Optional[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """``(name, amplitude, phase)`` rows for SSIM, PSNR and FRC50."""
    if not metrics:
        return []
    rows = []
    for key, label in (("ssim", "SSIM"), ("psnr", "PSNR (dB)"), ("frc50", "FRC50")):
        pair = metrics.get(key)
        if pair is None:
            continue
        rows.append((label, _fmt(pair[0]), _fmt(pair[1])))
    return rows


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.4g}" if math.isfinite(v) else str(v)


# ----------------------------------------------------------------------------- exports
def export_npz(rec: Reconstruction, path: str | os.PathLike[str]) -> Path:
    """``amplitude``, ``phase``, ``object``, ``canvas_size``, ``canvas_com`` (reconstruction.npz keys),
    plus the ``misfit_*`` arrays of the data-consistency map when there is one."""
    path = Path(path)
    misfit_arrays = dict((rec.misfit or {}).get("arrays") or {})
    atomic_savez(
        path,
        amplitude=rec.amplitude,
        phase=rec.phase,
        object=np.asarray(rec.object, dtype=np.complex64),
        canvas_size=np.int64(rec.canvas_size),
        canvas_com=np.asarray(rec.canvas_com, dtype=np.float64),
        **misfit_arrays,
    )
    logger.info("exported reconstruction NPZ %s", path)
    return path


def render_figure(rec: Reconstruction, truth: Optional[np.ndarray] = None, *, dpi: int = 100) -> Any:
    """A matplotlib Figure (no pyplot, no GUI backend) of amplitude and phase (+ ground truth)."""
    from matplotlib.figure import Figure

    rows = 2 if truth is not None else 1
    fig = Figure(figsize=(9.0, 4.0 * rows), dpi=dpi, layout="constrained")
    panels = [(rec.amplitude, "amplitude", False), (rec.phase, "phase", True)]
    if truth is not None:
        panels += [(np.abs(truth), "ground truth amplitude", False), (np.angle(truth), "ground truth phase", True)]
    for i, (img, title, is_phase) in enumerate(panels):
        ax = fig.add_subplot(rows, 2, i + 1)
        kwargs = dict(cmap=PHASE_CMAP, vmin=PHASE_LIMITS[0], vmax=PHASE_LIMITS[1]) if is_phase else dict(
            cmap=AMPLITUDE_CMAP)
        im = ax.imshow(img, origin="upper", interpolation="nearest", **kwargs)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, label="rad" if is_phase else "")
    fig.suptitle(rec.label)
    return fig


def export_png(rec: Reconstruction, path: str | os.PathLike[str], truth: Optional[np.ndarray] = None) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    fig = render_figure(rec, truth)
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    logger.info("exported reconstruction PNG %s", path)
    return path


def export_product(rec: Reconstruction, path: str | os.PathLike[str], dataset: Any) -> Path:
    """A Ptychodus product H5 of ``rec`` for ``dataset`` (a :class:`~.dataset.LoadedDataset`).

    With an input product the canvas is placed in it (data §6.2, positions/probe/metadata
    copied); for an NPZ dataset a product is built from the dataset (pixel size from its
    metadata, else 1 m).  The comments get the provenance line.
    """
    from ptychopinn_plugin.io import provenance_note, raw_data_to_product, reconstruction_to_product, write_product

    note = provenance_note(backend=rec.backend, archive_sha256=rec.archive_sha256)
    stitched = (np.asarray(rec.object, dtype=np.complex64), rec.canvas_com)
    losses = rec.losses if rec.losses else None
    if getattr(dataset, "product", None) is not None:
        product = reconstruction_to_product(dataset.product, stitched, comments_note=note, losses=losses)
    else:
        product = raw_data_to_product(dataset.raw, stitched, comments_note=note, losses=losses,
                                      name=Path(dataset.npz_path).stem)
    written = write_product(path, product)
    logger.info("exported reconstruction product %s", written)
    return Path(written)
