"""Models and results panel: open/save ``wts.h5.zip``, its summary, inference, exports."""

from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ptychopinn_gui.model.archive_summary import ModelSummary

__all__ = ["ModelsPanel"]


class ModelsPanel(QWidget):
    open_model_requested = pyqtSignal()
    save_model_requested = pyqtSignal()
    reconstruct_requested = pyqtSignal()
    export_requested = pyqtSignal(str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        model_box = QGroupBox("Model")
        mb = QVBoxLayout(model_box)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open model…")
        self.open_button.setToolTip("Open a wts.h5.zip archive (validated without importing a framework)")
        self.save_button = QPushButton("Save model…")
        self.save_button.setObjectName("save-model")
        self.save_button.setToolTip("Save the current model archive (Ctrl+S)")
        self.open_button.clicked.connect(self.open_model_requested)
        self.save_button.clicked.connect(self.save_model_requested)
        row.addWidget(self.open_button)
        row.addWidget(self.save_button)
        row.addStretch(1)
        mb.addLayout(row)
        self.summary = QTreeWidget()
        self.summary.setObjectName("model-summary")
        self.summary.setColumnCount(2)
        self.summary.setHeaderLabels(["property", "value"])
        self.summary.header().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.summary.setRootIsDecorated(False)
        mb.addWidget(self.summary, 1)
        layout.addWidget(model_box, 1)

        run_box = QGroupBox("Reconstruct")
        rb = QHBoxLayout(run_box)
        rb.addWidget(QLabel("Dataset:"))
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("reconstruct-dataset")
        self.dataset_combo.addItem("test data", "test")
        self.dataset_combo.addItem("training data", "train")
        rb.addWidget(self.dataset_combo)
        self.reconstruct_button = QPushButton("Reconstruct")
        self.reconstruct_button.setObjectName("reconstruct")
        self.reconstruct_button.setToolTip("Run the model on the chosen dataset in the worker process (Ctrl+R)")
        self.reconstruct_button.clicked.connect(self.reconstruct_requested)
        rb.addWidget(self.reconstruct_button)
        rb.addStretch(1)
        layout.addWidget(run_box)

        export_box = QGroupBox("Export the reconstruction")
        eb = QHBoxLayout(export_box)
        self.export_buttons: dict[str, QPushButton] = {}
        for fmt, text, tip in (("npz", "NPZ…", "amplitude, phase, complex object and canvas geometry"),
                               ("png", "PNG…", "amplitude and phase (and ground truth) with colorbars"),
                               ("h5", "Ptychodus product H5…", "the reconstruction placed in a product file")):
            button = QPushButton(text)
            button.setObjectName(f"export-{fmt}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, f=fmt: self.export_requested.emit(f))
            eb.addWidget(button)
            self.export_buttons[fmt] = button
        eb.addStretch(1)
        layout.addWidget(export_box)
        self.show_summary(None)
        self.set_has_reconstruction(False)

    def show_summary(self, summary: Optional[ModelSummary]) -> None:
        self.summary.clear()
        if summary is None:
            QTreeWidgetItem(self.summary, ["(no model)", "train one, or open a wts.h5.zip"])
            self.save_button.setEnabled(False)
            return
        for label, value in summary.rows():
            QTreeWidgetItem(self.summary, [label, value])
        self.save_button.setEnabled(True)

    def summary_value(self, label: str) -> Optional[str]:
        for i in range(self.summary.topLevelItemCount()):
            item = self.summary.topLevelItem(i)
            if item.text(0) == label:
                return item.text(1)
        return None

    def set_has_reconstruction(self, present: bool) -> None:
        for button in self.export_buttons.values():
            button.setEnabled(present)

    def dataset_choice(self) -> str:
        return str(self.dataset_combo.currentData())
