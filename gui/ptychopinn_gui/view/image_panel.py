"""Reconstruction preview: amplitude and phase side by side, ground truth and metrics.

* phase in the cyclic ``twilight`` colormap with limits fixed to [−π, π] (a wrapped
  phase must not be rescaled per image); amplitude in grey, autoscaled;
* all image axes share x/y, so zooming or panning one (toolbar) moves all;
* moving the mouse over an image emits ``pixel_info`` ("x, y: amplitude a, phase p")
  for the status bar (the images carry no tick labels: the read-out gives coordinates);
* with a ground truth (cropped to the canvas footprint) a second row shows it, and the
  metrics table lists SSIM, PSNR and FRC50 for amplitude and phase;
* the "misfit map" toggle (enabled when a reconstruction carries a data-consistency map)
  marks every scan position on the amplitude image, coloured by its Poisson deviance over
  the noise level (log scale, own colour bar in place of the amplitude's): about 1 where
  the object explains the measured pattern, high where it does not.

Performance matters because previews arrive while the GUI must stay responsive: the
four image axes and their colorbars are created once and placed by hand (no
constrained layout, which costs most of a redraw), updates use ``set_data`` and a
deferred redraw (the window's :class:`~.redraw.RedrawQueue`), and the ground-truth row
is shown or hidden, never rebuilt.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ptychopinn_gui.model.reconstruction import (
    AMPLITUDE_CMAP,
    PHASE_CMAP,
    PHASE_LIMITS,
    Reconstruction,
    metric_rows,
)
from ptychopinn_gui.view.mpl import NavigationToolbar2QT, make_canvas
from ptychopinn_gui.view.redraw import RedrawQueue

__all__ = ["ImagePanel", "PANELS"]

MISFIT_CMAP = "viridis"
PANELS = (("amplitude", False), ("phase", True), ("truth amplitude", False), ("truth phase", True))
EMPTY_TITLE = "No reconstruction yet: train a model or reconstruct with one."


class ImagePanel(QWidget):
    pixel_info = pyqtSignal(str)

    def __init__(self, parent: Optional[QWidget] = None, redraw: Optional[RedrawQueue] = None) -> None:
        super().__init__(parent)
        self.redraw = redraw
        self.canvas = make_canvas(6.0, 3.2, layout=None)
        self.figure = self.canvas.figure
        self.toolbar = NavigationToolbar2QT(self.canvas, self)
        self.title = QLabel(EMPTY_TITLE)
        self.title.setObjectName("preview-title")
        self.title.setWordWrap(True)
        self.metrics = QTableWidget(0, 3)
        self.metrics.setObjectName("metrics")
        self.metrics.setHorizontalHeaderLabels(["metric", "amplitude", "phase"])
        self.metrics.verticalHeader().setVisible(False)
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.metrics.setMaximumHeight(120)
        self.metrics.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        self.misfit_toggle = QCheckBox("misfit map")
        self.misfit_toggle.setObjectName("misfit-toggle")
        self.misfit_toggle.setToolTip("Scan positions coloured by how well the shown object explains each measured "
                                      "pattern (Poisson deviance / noise level; 1 = at the noise level)")
        self.misfit_toggle.setEnabled(False)
        self.misfit_toggle.toggled.connect(self._show_misfit)
        head = QHBoxLayout()
        head.addWidget(self.misfit_toggle)
        head.addStretch(1)
        head.addWidget(self.toolbar)
        layout.addLayout(head)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.metrics)
        self.images: dict[str, object] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.axes: dict[str, object] = {}
        self.colorbar_axes: dict[str, object] = {}
        self.reconstruction: Optional[Reconstruction] = None
        self.with_truth: Optional[bool] = False
        self._build()
        self._place(False)
        self._hide_all()
        self.canvas.mpl_connect("motion_notify_event", self._on_motion)

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        first = None
        for name, is_phase in PANELS:
            ax = self.figure.add_axes((0, 0, 0.1, 0.1), sharex=first, sharey=first)
            first = first or ax
            kwargs = dict(cmap=PHASE_CMAP, vmin=PHASE_LIMITS[0], vmax=PHASE_LIMITS[1]) if is_phase else dict(
                cmap=AMPLITUDE_CMAP, vmin=0.0, vmax=1.0)
            im = ax.imshow(np.zeros((2, 2), dtype=np.float32), origin="upper", interpolation="nearest", **kwargs)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize="small")
            cax = self.figure.add_axes((0, 0, 0.01, 0.1))
            cbar = self.figure.colorbar(im, cax=cax)
            cbar.ax.tick_params(labelsize="x-small")
            if is_phase:
                cbar.set_ticks([-math.pi, 0, math.pi], labels=["−π", "0", "π"])
            self.images[name] = im
            self.axes[name] = ax
            self.colorbar_axes[name] = cax
        self.axes["amplitude"].set_xlim(-0.5, 1.5)
        self.axes["amplitude"].set_ylim(1.5, -0.5)
        from matplotlib.colors import LogNorm

        self.misfit_points = self.axes["amplitude"].scatter(
            [], [], c=[], s=14, cmap=MISFIT_CMAP, norm=LogNorm(vmin=0.5, vmax=10.0), edgecolors="none", alpha=0.9)
        self.misfit_points.set_visible(False)
        self.misfit_cax = self.figure.add_axes((0, 0, 0.01, 0.1))
        bar = self.figure.colorbar(self.misfit_points, cax=self.misfit_cax)
        bar.ax.tick_params(labelsize="x-small")
        bar.set_label("deviance / noise", fontsize="x-small")
        self.misfit_cax.set_visible(False)

    def _place(self, with_truth: bool) -> None:
        """Hand-made grid: 1 or 2 rows of [image, colorbar] × 2 columns (figure fractions)."""
        rows = 2 if with_truth else 1
        width, gap, bar = 0.40, 0.07, 0.015
        top, bottom = 0.93, 0.03
        height = (top - bottom - 0.06 * (rows - 1)) / rows
        for i, (name, _) in enumerate(PANELS):
            row, col = divmod(i, 2)
            visible = row < rows
            ax, cax = self.axes[name], self.colorbar_axes[name]
            ax.set_visible(visible)
            cax.set_visible(visible)
            if not visible:
                continue
            x0 = 0.02 + col * (width + gap + bar)
            y0 = top - (row + 1) * height - row * 0.06
            ax.set_position((x0, y0, width, height - 0.04))
            cax.set_position((x0 + width + 0.01, y0 + 0.05 * height, bar, height - 0.04 - 0.1 * height))
            if name == "amplitude":
                self.misfit_cax.set_position(cax.get_position())
        self.with_truth = with_truth

    def _hide_all(self) -> None:
        """Nothing to show yet: no empty black frames, just the title line."""
        for name, _ in PANELS:
            self.axes[name].set_visible(False)
            self.colorbar_axes[name].set_visible(False)
        self.misfit_cax.set_visible(False)
        self.with_truth = None  # the next show_reconstruction places the axes again

    # ---------------------------------------------------------------- updates
    def show_reconstruction(self, rec: Reconstruction, truth: Optional[np.ndarray] = None) -> None:
        with_truth = truth is not None
        if with_truth != self.with_truth:
            self._place(with_truth)
        self.reconstruction = rec
        amp, phase = rec.amplitude, rec.phase
        self._set("amplitude", amp, autoscale=True)
        self._set("phase", phase)
        if with_truth:
            self._set("truth amplitude", np.abs(truth).astype(np.float32), autoscale=True)
            self._set("truth phase", np.angle(truth).astype(np.float32))
        else:
            self.arrays.pop("truth amplitude", None)
            self.arrays.pop("truth phase", None)
        h, w = amp.shape
        first = self.axes["amplitude"]
        first.set_xlim(-0.5, w - 0.5)
        first.set_ylim(h - 0.5, -0.5)
        self.toolbar.update()  # the new image extent becomes the toolbar's "home" view
        self.title.setText(f"{rec.label} — {w}×{h} px, {rec.backend}")
        self._show_metrics(rec.metrics)
        self._set_misfit(rec.misfit)
        self._redraw()

    # ---------------------------------------------------------------- misfit map
    def _set_misfit(self, misfit: Optional[dict]) -> None:
        if misfit is None:
            self.misfit_toggle.setEnabled(False)
            self._show_misfit(False)
            return
        values = np.asarray(misfit["deviance_ratio"], dtype=np.float64)
        self.misfit_points.set_offsets(np.column_stack([misfit["x_px"], misfit["y_px"]]))
        self.misfit_points.set_array(values)
        finite = values[np.isfinite(values) & (values > 0)]
        low = float(min(finite.min(), 1.0)) if finite.size else 0.5
        high = float(finite.max()) if finite.size else 10.0
        self.misfit_points.set_clim(max(low, 1e-3), max(high, low * 1.01 + 1e-12))
        self.misfit_toggle.setEnabled(True)
        self._show_misfit(self.misfit_toggle.isChecked())

    def _show_misfit(self, visible: bool) -> None:
        rec = self.reconstruction
        visible = bool(visible) and rec is not None and rec.misfit is not None
        self.misfit_points.set_visible(visible)
        self.misfit_cax.set_visible(visible and self.axes["amplitude"].get_visible())
        self.colorbar_axes["amplitude"].set_visible(not visible and self.axes["amplitude"].get_visible())
        if rec is not None:
            h, w = rec.object.shape
            text = f"{rec.label} — {w}×{h} px, {rec.backend}"
            if visible:
                text += f"\n{rec.misfit['text']}"
            self.title.setText(text)
        self._redraw()

    def _redraw(self) -> None:
        if self.redraw is not None:
            self.redraw.request(self.canvas)
        else:
            self.canvas.draw_idle()

    def _set(self, name: str, data: np.ndarray, autoscale: bool = False) -> None:
        im = self.images[name]
        h, w = data.shape
        im.set_data(data)
        im.set_extent((-0.5, w - 0.5, h - 0.5, -0.5))
        if autoscale:
            finite = data[np.isfinite(data)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            im.set_clim(low, high if high > low else low + 1e-12)
        self.arrays[name] = data

    def _show_metrics(self, metrics: Optional[dict]) -> None:
        rows = metric_rows(metrics)
        self.metrics.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.metrics.setItem(r, c, QTableWidgetItem(text))
        self.metrics.setVisible(bool(rows))

    def clear(self) -> None:
        for name, _ in PANELS:
            self.images[name].set_data(np.zeros((2, 2), dtype=np.float32))
        self.arrays.clear()
        self._hide_all()
        self.reconstruction = None
        self.misfit_toggle.setEnabled(False)
        self.misfit_points.set_visible(False)
        self.misfit_cax.set_visible(False)
        self.metrics.setVisible(False)
        self.title.setText(EMPTY_TITLE)
        self._redraw()

    # ---------------------------------------------------------------- read-out
    def pixel_text(self, name: str, x: float, y: float) -> str:
        col, row = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
        head = f"x {col}, y {row}"
        prefix = "truth " if name.startswith("truth") else ""
        values = []
        for key in (prefix + "amplitude", prefix + "phase"):
            data = self.arrays.get(key)
            if data is not None and 0 <= row < data.shape[0] and 0 <= col < data.shape[1]:
                values.append(f"{key} {data[row, col]:.4g}")
        return f"{head}: {', '.join(values)}" if values else head

    def _on_motion(self, event) -> None:  # noqa: ANN001 - matplotlib event
        for name, ax in self.axes.items():
            if event.inaxes is ax and event.xdata is not None and ax.get_visible():
                self.pixel_info.emit(self.pixel_text(name, event.xdata, event.ydata))
                return
        self.pixel_info.emit("")
