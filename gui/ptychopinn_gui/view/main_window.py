"""The main window: panels in tabs, preview and log on the right, menus and shortcuts.

Pure layout and actions: behaviour lives in :class:`~ptychopinn_gui.controller.app_controller.AppController`.
Standard shortcuts: Open Ctrl+O, Save (model) Ctrl+S, Quit Ctrl+Q; Train Ctrl+T,
Reconstruct Ctrl+R, Stop (and keep the model) Esc.
"""

from __future__ import annotations

from typing import Callable, Optional

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QTabWidget,
    QWidget,
)

from ptychopinn_gui.model.parameters import ConfigForm
from ptychopinn_gui.view.data_panel import DataPanel
from ptychopinn_gui.view.image_panel import ImagePanel
from ptychopinn_gui.view.log_panel import LogPanel
from ptychopinn_gui.view.models_panel import ModelsPanel
from ptychopinn_gui.view.parameter_panel import ParameterPanel
from ptychopinn_gui.view.redraw import RedrawQueue
from ptychopinn_gui.view.training_panel import TrainingPanel

__all__ = ["MainWindow"]


class MainWindow(QMainWindow):
    files_dropped = pyqtSignal(list)
    close_requested = pyqtSignal()

    def __init__(self, form: ConfigForm, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("ptychopinn-main-window")
        self.setWindowTitle("ptychopinn")
        self.setAcceptDrops(True)
        self.resize(1400, 860)
        self.close_guard: Optional[Callable[[], bool]] = None

        self.redraw = RedrawQueue(self)
        self.data_panel = DataPanel()
        self.parameter_panel = ParameterPanel(form)
        self.training_panel = TrainingPanel(redraw=self.redraw)
        self.models_panel = ModelsPanel()
        self.image_panel = ImagePanel(redraw=self.redraw)
        self.log_panel = LogPanel()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("main-tabs")
        self.tabs.addTab(self.data_panel, "Data")
        self.tabs.addTab(self.parameter_panel, "Parameters")
        self.tabs.addTab(self.training_panel, "Training")
        self.tabs.addTab(self.models_panel, "Models && results")

        self.right_splitter = QSplitter(Qt.Vertical)
        self.right_splitter.setObjectName("right-splitter")
        self.right_splitter.addWidget(self.image_panel)
        self.right_splitter.addWidget(self.log_panel)
        self.right_splitter.setStretchFactor(0, 4)
        self.right_splitter.setStretchFactor(1, 1)
        self.main_splitter = QSplitter(Qt.Horizontal)
        self.main_splitter.setObjectName("main-splitter")
        self.main_splitter.addWidget(self.tabs)
        self.main_splitter.addWidget(self.right_splitter)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 3)
        self.setCentralWidget(self.main_splitter)

        self.pixel_label = QLabel("")
        self.pixel_label.setObjectName("pixel-readout")
        self.worker_label = QLabel("worker: not started")
        self.worker_label.setObjectName("worker-state")
        self.statusBar().addPermanentWidget(self.pixel_label)
        self.statusBar().addPermanentWidget(self.worker_label)
        self.image_panel.pixel_info.connect(self.pixel_label.setText)
        self._build_actions()

    # ---------------------------------------------------------------- actions
    def _action(self, text: str, shortcut: Optional[QKeySequence | str] = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open dataset…", QKeySequence.Open, "Open a canonical NPZ dataset")
        self.open_test_action = self._action("Open &test dataset…", None, "Open an NPZ used for evaluation")
        self.open_product_action = self._action("Open Ptychodus &product…", None,
                                                "Open a product .h5 plus its diffraction file")
        self.sample_action = self._action("Load built-in &sample", None, "Simulate (or reuse) the demo dataset")
        self.open_model_action = self._action("Open &model…", None, "Open a wts.h5.zip model archive")
        self.save_model_action = self._action("&Save model…", QKeySequence.Save, "Save the current model archive")
        self.export_npz_action = self._action("Export reconstruction as NPZ…")
        self.export_png_action = self._action("Export reconstruction as PNG…")
        self.export_h5_action = self._action("Export reconstruction as Ptychodus product…")
        self.load_preset_action = self._action("Load parameter preset…")
        self.save_preset_action = self._action("Save parameter preset…")
        self.quit_action = self._action("&Quit", "Ctrl+Q", "Quit the application")
        self.train_action = self._action("&Train", "Ctrl+T", "Train a model in the worker process")
        self.stop_action = self._action("&Stop and keep model", "Esc", "Finish the batch and keep the model")
        self.cancel_action = self._action("&Cancel run", None, "Terminate the worker process")
        self.reconstruct_action = self._action("&Reconstruct", "Ctrl+R", "Apply the model to a dataset")
        self.detect_action = self._action("&Detect device", None, "Report the backend's device (CPU/GPU)")
        self.about_action = self._action("&About", None, "Versions and credits")

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_action, self.open_test_action, self.open_product_action])
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.setObjectName("recent-menu")
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.sample_action)
        file_menu.addSeparator()
        file_menu.addActions([self.open_model_action, self.save_model_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_npz_action, self.export_png_action, self.export_h5_action])
        file_menu.addSeparator()
        file_menu.addActions([self.load_preset_action, self.save_preset_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = bar.addMenu("&Run")
        run_menu.addActions([self.train_action, self.stop_action, self.cancel_action, self.reconstruct_action])
        run_menu.addSeparator()
        run_menu.addAction(self.detect_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    # ---------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    # ---------------------------------------------------------------- closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.close_guard is not None and not self.close_guard():
            event.ignore()
            return
        self.close_requested.emit()
        event.accept()
