"""PNG figures of reconstructions (matplotlib's Agg canvas, no pyplot).

Figures are built on ``matplotlib.figure.Figure`` with an explicit Agg canvas, so no
global backend is selected and no GUI toolkit is touched (the plugin runs inside
Ptychodus's Qt process).  Every file is written atomically.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ptychopinn_plugin.util.atomic import atomic_path

logger = logging.getLogger(__name__)

__all__ = ["PHASE_COLORMAP", "AMPLITUDE_COLORMAP", "save_image_png", "save_comparison_png"]

AMPLITUDE_COLORMAP = "gray"
PHASE_COLORMAP = "twilight"
"""Cyclic colormap: −π and +π get the same colour, as the phase wraps."""


def _figure(ncols: int, width: float = 5.0, height: float = 4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    logger.debug("wrote %s", path)
    return path


def _panel(fig, ax, image: np.ndarray, title: str, phase: bool) -> None:
    if phase:
        im = ax.imshow(image, cmap=PHASE_COLORMAP, vmin=-math.pi, vmax=math.pi, interpolation="nearest")
    else:
        im = ax.imshow(image, cmap=AMPLITUDE_COLORMAP, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    cbar = fig.colorbar(im, ax=ax, shrink=0.9)
    if phase:
        cbar.set_ticks([-math.pi, -math.pi / 2, 0.0, math.pi / 2, math.pi])
        cbar.set_ticklabels(["−π", "−π/2", "0", "π/2", "π"])
        cbar.set_label("phase (rad)")
    else:
        cbar.set_label("amplitude")


def save_image_png(image: np.ndarray, path: str | os.PathLike[str], *, phase: bool, title: str) -> Path:
    """One 2-D image with a colorbar: gray for amplitude, cyclic fixed to [−π, π] for phase."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{title}: expected a 2-D image; got shape {image.shape}")
    fig = _figure(1)
    _panel(fig, fig.add_subplot(1, 1, 1), image, title, phase)
    return _save(fig, Path(path))


def save_comparison_png(reconstruction: np.ndarray, ground_truth: np.ndarray, path: str | os.PathLike[str],
                        *, title: Optional[str] = None) -> Path:
    """2×2 panel: amplitude and phase of the (registered) reconstruction and the ground truth."""
    recon = np.asarray(reconstruction)
    truth = np.asarray(ground_truth)
    if recon.ndim != 2 or truth.ndim != 2:
        raise ValueError(f"expected 2-D complex images; got {recon.shape} and {truth.shape}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 8.4), layout="constrained")
    FigureCanvasAgg(fig)
    panels = [
        (np.abs(recon), "reconstruction amplitude", False),
        (np.angle(recon), "reconstruction phase", True),
        (np.abs(truth), "ground truth amplitude", False),
        (np.angle(truth), "ground truth phase", True),
    ]
    for i, (image, name, is_phase) in enumerate(panels):
        _panel(fig, fig.add_subplot(2, 2, i + 1), image, name, is_phase)
    if title:
        fig.suptitle(title)
    return _save(fig, Path(path))
