"""Data panel: training/test datasets, diffraction domain, summary and thumbnails.

Shows what matters before training: pattern count and size, the photon estimate
``mean Σ A²``, the probe (amplitude and phase thumbnails) and the scan positions.
Loading errors appear inline (red) with the data contract's message.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

import numpy as np
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ptychopinn_gui.model.dataset import DOMAINS, DatasetSummary
from ptychopinn_gui.model.reconstruction import PHASE_CMAP, PHASE_LIMITS
from ptychopinn_gui.view.mpl import make_canvas

__all__ = ["DataPanel"]

DOMAIN_HELP = {
    "amplitude": "the file holds amplitudes sqrt(counts) (canonical NPZ; no change)",
    "intensity": "the file holds intensities/counts; amplitude = sqrt(max(I, 0))",
    "auto": "_metadata.diffraction_domain decides, else integer dtype = counts, float = amplitude",
}


_INNER = re.compile(r"^(?P<file>.+?\.[A-Za-z0-9]+)(?P<inner>:/.*)?$")
"""``file.h5:/raw_data/diffraction`` → file part and HDF5 member (kept)."""


def _file_name(source: str) -> str:
    """``/a/b/product.h5:/raw_data/diffraction`` → ``product.h5:/raw_data/diffraction``."""
    source = source.strip()
    match = _INNER.match(source)
    if match is None:
        return Path(source).name or source
    return Path(match.group("file")).name + (match.group("inner") or "")


class DatasetBox(QGroupBox):
    """Open/clear buttons, the file name and the inline error line of one dataset."""

    open_requested = pyqtSignal()
    open_product_requested = pyqtSignal()
    clear_requested = pyqtSignal()

    def __init__(self, title: str, name: str, clearable: bool, parent: Optional[QWidget] = None) -> None:
        super().__init__(title, parent)
        self.setObjectName(name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open NPZ…")
        self.open_button.clicked.connect(self.open_requested)
        self.product_button = QPushButton("Open Ptychodus product…")
        self.product_button.setToolTip("A product file (.h5) plus the diffraction file that goes with it")
        self.product_button.clicked.connect(self.open_product_requested)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.product_button)
        if clearable:
            clear = QPushButton("Clear")
            clear.clicked.connect(self.clear_requested)
            buttons.addWidget(clear)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.path_label = QLabel("(none)")
        self.path_label.setObjectName(f"{name}-source")
        self.path_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.path_label)
        self.error_label = QLabel()
        self.error_label.setObjectName(f"{name}-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d32f2f;")
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)

    def show_source(self, summary: Optional[DatasetSummary]) -> None:
        """The file name(s) only (full paths in the tooltip), so long paths never break the layout."""
        if summary is None:
            self.path_label.setText("(none)")
            self.path_label.setToolTip("")
            return
        names = " + ".join(_file_name(part) for part in summary.source.split(" + "))
        self.path_label.setText(names)
        self.path_label.setToolTip(summary.source)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))


class SummaryTable(QTableWidget):
    """Properties of the training and test data side by side."""

    COLUMNS = ("train", "test")

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, 2, parent)
        self.setObjectName("data-summary")
        self.setHorizontalHeaderLabels(["training data", "test data"])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.setEditTriggers(QTableWidget.NoEditTriggers)
        self.summaries: dict[str, Optional[DatasetSummary]] = {"train": None, "test": None}

    def show_summary(self, target: str, summary: Optional[DatasetSummary]) -> None:
        self.summaries[target] = summary
        labels: list[str] = []
        per_column: dict[str, dict[str, str]] = {}
        for column in self.COLUMNS:
            s = self.summaries[column]
            rows = dict(s.rows()[1:]) if s is not None else {}
            per_column[column] = rows
            labels += [label for label in rows if label not in labels]
        self.setRowCount(len(labels))
        self.setVerticalHeaderLabels(labels)
        for r, label in enumerate(labels):
            for c, column in enumerate(self.COLUMNS):
                self.setItem(r, c, QTableWidgetItem(per_column[column].get(label, "")))
        self.resizeRowsToContents()
        height = sum(self.rowHeight(r) for r in range(self.rowCount())) + self.horizontalHeader().height()
        self.setFixedHeight(height + 2 * self.frameWidth() + 2)

    def value(self, target: str, label: str) -> Optional[str]:
        column = self.COLUMNS.index(target)
        for r in range(self.rowCount()):
            if self.verticalHeaderItem(r).text() == label:
                item = self.item(r, column)
                return item.text() if item is not None else None
        return None


class DataPanel(QWidget):
    domain_changed = pyqtSignal(str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        domain_row = QHBoxLayout()
        domain_row.addWidget(QLabel("Diffraction data are:"))
        self.domain_combo = QComboBox()
        self.domain_combo.setObjectName("diffraction-domain")
        for domain in DOMAINS:
            self.domain_combo.addItem(domain, domain)
            self.domain_combo.setItemData(self.domain_combo.count() - 1, DOMAIN_HELP[domain], Qt.ToolTipRole)
        self.domain_combo.setToolTip("How the diffraction arrays are read (data contract §1.4):\n" +
                                     "\n".join(f"{k}: {v}" for k, v in DOMAIN_HELP.items()))
        self.domain_combo.currentIndexChanged.connect(lambda: self.domain_changed.emit(self.domain()))
        domain_row.addWidget(self.domain_combo)
        domain_row.addStretch(1)
        layout.addLayout(domain_row)

        self.train_box = DatasetBox("Training data", "train-data", clearable=False)
        self.test_box = DatasetBox("Test data (optional)", "test-data", clearable=True)
        self.test_box.setToolTip("Used to evaluate the trained model, for the live previews and for reconstruction")
        boxes = QHBoxLayout()
        boxes.addWidget(self.train_box)
        boxes.addWidget(self.test_box)
        layout.addLayout(boxes)
        self.summary_table = SummaryTable()
        layout.addWidget(self.summary_table)
        hint = QLabel("Tip: drop .npz files (or a product .h5 together with its diffraction file) onto the window.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray;")
        layout.addWidget(hint)

        self.canvas = make_canvas(6.0, 2.2)
        self.figure = self.canvas.figure
        layout.addWidget(self.canvas, 1)
        self._draw_empty()

    def show_summary(self, target: str, summary: Optional[DatasetSummary]) -> None:
        box = self.train_box if target == "train" else self.test_box
        box.show_source(summary)
        self.summary_table.show_summary(target, summary)

    def summary_value(self, target: str, label: str) -> Optional[str]:
        return self.summary_table.value(target, label)

    def domain(self) -> str:
        return str(self.domain_combo.currentData())

    def set_domain(self, domain: str) -> None:
        index = self.domain_combo.findData(domain)
        if index >= 0:
            self.domain_combo.blockSignals(True)
            self.domain_combo.setCurrentIndex(index)
            self.domain_combo.blockSignals(False)

    def _draw_empty(self) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "Open a dataset (File ▸ Open, Ctrl+O) or load the built-in sample",
                ha="center", va="center", transform=ax.transAxes, color="gray")
        ax.set_axis_off()
        self.canvas.draw_idle()

    def show_thumbnails(self, summary: Optional[DatasetSummary]) -> None:
        """Probe amplitude/phase and the scan positions of the training data."""
        if summary is None:
            self._draw_empty()
            return
        self.figure.clear()
        probe = summary.probe
        axes = self.figure.subplots(1, 3)
        self.figure.subplots_adjust(left=0.06, right=0.98, bottom=0.16, top=0.88, wspace=0.45)
        im = axes[0].imshow(np.abs(probe), cmap="magma", interpolation="nearest")
        axes[0].set_title("probe amplitude", fontsize="small")
        self.figure.colorbar(im, ax=axes[0], fraction=0.046, pad=0.02)
        im = axes[1].imshow(np.angle(probe), cmap=PHASE_CMAP, vmin=PHASE_LIMITS[0], vmax=PHASE_LIMITS[1],
                            interpolation="nearest")
        axes[1].set_title("probe phase", fontsize="small")
        cbar = self.figure.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02)
        cbar.set_ticks([-math.pi, 0, math.pi], labels=["−π", "0", "π"])
        axes[2].scatter(summary.xcoords, summary.ycoords, s=4, c=np.arange(summary.xcoords.size), cmap="viridis")
        axes[2].set_title(f"scan positions ({summary.n_patterns})", fontsize="small")
        axes[2].set_aspect("equal")
        axes[2].invert_yaxis()
        axes[2].set_xlabel("x (px)", fontsize="x-small")
        axes[2].set_ylabel("y (px)", fontsize="x-small")
        for ax in axes:
            ax.tick_params(labelsize="x-small")
        self.canvas.draw_idle()
