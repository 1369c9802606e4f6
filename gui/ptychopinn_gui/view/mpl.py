"""Matplotlib embedding helpers (Qt5Agg canvas; no pyplot, so no global figure state)."""

from __future__ import annotations

from typing import Optional

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from PyQt5.QtWidgets import QSizePolicy, QWidget

__all__ = ["make_canvas", "FigureCanvasQTAgg", "NavigationToolbar2QT"]


def make_canvas(width: float = 5.0, height: float = 4.0, dpi: int = 90, parent: Optional[QWidget] = None,
                layout: Optional[str] = None) -> FigureCanvasQTAgg:
    """A Qt canvas; ``layout=None`` by default because constrained layout dominates redraw
    time (live plots position their axes themselves)."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    canvas = FigureCanvasQTAgg(fig)
    canvas.setParent(parent)
    canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    canvas.setMinimumSize(200, 150)
    return canvas
