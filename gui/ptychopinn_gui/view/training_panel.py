"""Training panel: run controls, epoch progress with ETA, live loss plot."""

from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ptychopinn_gui.model.progress import TrainingProgress, format_duration
from ptychopinn_gui.view.loss_plot import LossPlot
from ptychopinn_gui.view.redraw import RedrawQueue

__all__ = ["TrainingPanel"]


class TrainingPanel(QWidget):
    train_requested = pyqtSignal()
    stop_requested = pyqtSignal()
    cancel_requested = pyqtSignal()

    def __init__(self, parent: Optional[QWidget] = None, redraw: Optional[RedrawQueue] = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train")
        self.train_button.setToolTip("Train a model on the training data in the worker process (Ctrl+T)")
        self.stop_button = QPushButton("Stop and keep model")
        self.stop_button.setObjectName("stop")
        self.stop_button.setToolTip("Finish the current batch, keep and archive the model trained so far (Esc)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.setToolTip("Terminate the worker process now; the run is discarded")
        self.train_button.clicked.connect(self.train_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        for button in (self.train_button, self.stop_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Preview every"))
        self.preview_every = QSpinBox()
        self.preview_every.setObjectName("preview-every")
        self.preview_every.setRange(0, 10000)
        self.preview_every.setValue(5)
        self.preview_every.setSuffix(" epochs")
        self.preview_every.setSpecialValueText("end only")
        self.preview_every.setToolTip("Predict and stitch the central scan positions every this many epochs")
        buttons.addWidget(self.preview_every)
        layout.addLayout(buttons)

        self.progress = QProgressBar()
        self.progress.setObjectName("epoch-progress")
        self.progress.setFormat("epoch %v / %m")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        info = QHBoxLayout()
        self.status_label = QLabel("idle")
        self.status_label.setObjectName("training-status")
        self.eta_label = QLabel("ETA –")
        self.eta_label.setObjectName("eta")
        info.addWidget(self.status_label, 1)
        info.addWidget(self.eta_label)
        layout.addLayout(info)
        self.loss_plot = LossPlot(redraw=redraw)
        layout.addWidget(self.loss_plot, 1)
        self.set_running(False)

    def set_running(self, running: bool, can_train: bool = True) -> None:
        self.train_button.setEnabled(not running and can_train)
        self.stop_button.setEnabled(running)
        self.cancel_button.setEnabled(running)

    def reset(self, nepochs: int) -> None:
        self.progress.setRange(0, max(1, int(nepochs)))
        self.progress.setValue(0)
        self.eta_label.setText("ETA –")
        self.loss_plot.clear()

    def show_progress(self, progress: TrainingProgress) -> None:
        self.progress.setRange(0, max(1, progress.nepochs))
        self.progress.setValue(progress.done)
        self.eta_label.setText(f"elapsed {format_duration(progress.elapsed)}, "
                               f"ETA {format_duration(progress.eta_seconds())}")
        self.loss_plot.set_curves(progress.epochs, progress.train_loss, progress.val_loss)

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)
