"""Live loss curves: training and validation per epoch.

The figure is built once; each epoch updates the two ``Line2D`` objects with
``set_data`` followed by ``relim``/``autoscale_view`` and a deferred redraw
(``draw_idle``, or the window's :class:`~.redraw.RedrawQueue`, which renders one canvas
per event-loop turn) — rebuilding the figure per epoch would stall the GUI.  The y axis is logarithmic when every
value is positive.  The Poisson negative log-likelihood omits its data-only constant and
is usually negative, where a log axis is impossible (and ``symlog`` shows no ticks in a
narrow negative band), so the axis is then linear.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from matplotlib.ticker import MaxNLocator
from PyQt5.QtWidgets import QVBoxLayout, QWidget

from ptychopinn_gui.view.mpl import make_canvas
from ptychopinn_gui.view.redraw import RedrawQueue

__all__ = ["LossPlot"]


class LossPlot(QWidget):
    def __init__(self, parent: Optional[QWidget] = None, redraw: Optional[RedrawQueue] = None) -> None:
        super().__init__(parent)
        self.redraw = redraw
        self.canvas = make_canvas(5.0, 3.0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.figure = self.canvas.figure
        self.ax = self.figure.add_subplot(1, 1, 1)
        self.figure.subplots_adjust(left=0.16, right=0.97, bottom=0.16, top=0.95)
        (self.train_line,) = self.ax.plot([], [], "o-", color="#1f77b4", label="training loss", markersize=4)
        (self.val_line,) = self.ax.plot([], [], "s--", color="#ff7f0e", label="validation loss", markersize=4)
        self.ax.set_xlabel("epoch", fontsize="small")
        self.ax.set_ylabel("loss", fontsize="small")
        self.ax.tick_params(labelsize="x-small")
        self.ax.grid(True, alpha=0.3)
        self.ax.legend(loc="upper right", fontsize="small")
        self.ax.set_yscale("log")
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.canvas.draw_idle()

    def clear(self) -> None:
        self.set_curves([], [], [])

    def set_curves(self, epochs: Sequence[int], train: Sequence[float], val: Sequence[float]) -> None:
        x = [e + 1 for e in epochs]
        self.train_line.set_data(x, list(train))
        vx = [xi for xi, v in zip(x, val) if math.isfinite(v)]
        vy = [v for v in val if math.isfinite(v)]
        self.val_line.set_data(vx, vy)
        values = [v for v in list(train) + vy if math.isfinite(v)]
        if values:
            scale = "log" if min(values) > 0 else "linear"
            if self.ax.get_yscale() != scale:
                self.ax.set_yscale(scale)
        self.ax.relim()
        self.ax.autoscale_view()
        if x:
            self.ax.set_xlim(0.5, max(x) + 0.5)
        self._redraw()

    def _redraw(self) -> None:
        if self.redraw is not None:
            self.redraw.request(self.canvas)
        else:
            self.canvas.draw_idle()
