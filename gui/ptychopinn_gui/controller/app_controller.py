"""Application controller: the app's state, wiring of models, worker and views, settings.

The actions live in mixins, one concern each: :mod:`.data_actions` (datasets),
:mod:`.parameter_actions` (validation, presets), :mod:`.run_actions` (worker jobs and
their events), :mod:`.model_actions` (archives, exports).

Every user action has a path-taking method (used by tests, drag and drop, recent files
and the command line) and, where a file is needed, a thin ``*_dialog`` wrapper that asks
for it.  Long work never runs here: training, inference and device probing are jobs for
the worker process; the GUI thread only loads small arrays, validates configurations,
reads archive manifests and draws.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtGui import QCursor
from PyQt5.QtWidgets import QApplication, QFileDialog, QMessageBox

from ptychopinn_gui.controller.data_actions import DataActions
from ptychopinn_gui.controller.model_actions import ModelActions
from ptychopinn_gui.controller.parameter_actions import ParameterActions
from ptychopinn_gui.controller.run_actions import RunActions
from ptychopinn_gui.controller.worker_controller import WorkerController
from ptychopinn_gui.model.archive_summary import ModelSummary
from ptychopinn_gui.model.dataset import LoadedDataset
from ptychopinn_gui.model.parameters import ConfigForm, ValidationReport
from ptychopinn_gui.model.paths import SessionDirs
from ptychopinn_gui.model.progress import TrainingProgress
from ptychopinn_gui.model.reconstruction import Reconstruction
from ptychopinn_gui.settings import AppSettings
from ptychopinn_gui.view.dialogs import error_dialog, show_about
from ptychopinn_gui.view.main_window import MainWindow

logger = logging.getLogger(__name__)

__all__ = ["AppController"]


class AppController(DataActions, ParameterActions, RunActions, ModelActions, QObject):
    dataset_loaded = pyqtSignal(str)
    """'train' or 'test' after a dataset was loaded (or cleared)."""
    model_changed = pyqtSignal()
    reconstruction_changed = pyqtSignal()

    def __init__(self, window: MainWindow, form: ConfigForm, settings: AppSettings,
                 session: Optional[SessionDirs] = None) -> None:
        super().__init__(window)
        self.window = window
        self.form = form
        self.settings = settings
        self.session = session or SessionDirs()
        self.worker = WorkerController(self)
        self.progress = TrainingProgress()
        self.train_data: Optional[LoadedDataset] = None
        self.test_data: Optional[LoadedDataset] = None
        self.model_archive: Optional[Path] = None
        self.model_summary: Optional[ModelSummary] = None
        self.model_unsaved = False
        """A trained model exists only in the session directory (removed at exit)."""
        self.reconstruction: Optional[Reconstruction] = None
        self.last_report = ValidationReport()
        self.error_dialogs: list[QMessageBox] = []
        self.errors: list[tuple[str, str]] = []
        """(title, message) of every error shown (kept for tests and the log)."""
        self.recent = settings.recent_files()
        self.device_text = ""
        self._job_dataset: dict[str, str] = {}
        self._connect()
        self._restore_settings()
        self.refresh_recent_menu()
        self.validate()

    # ================================================================= wiring
    def _connect(self) -> None:
        w = self.window
        dp, pp, tp, mp = w.data_panel, w.parameter_panel, w.training_panel, w.models_panel
        dp.train_box.open_requested.connect(lambda: self.open_dataset_dialog("train"))
        dp.train_box.open_product_requested.connect(lambda: self.open_product_dialog("train"))
        dp.test_box.open_requested.connect(lambda: self.open_dataset_dialog("test"))
        dp.test_box.open_product_requested.connect(lambda: self.open_product_dialog("test"))
        dp.test_box.clear_requested.connect(self.clear_test_data)
        dp.domain_changed.connect(self.reload_with_domain)
        pp.changed.connect(self.validate)
        pp.backend_changed.connect(self._backend_changed)
        pp.detect_device_requested.connect(self.detect_device)
        pp.load_preset_requested.connect(self.load_preset_dialog)
        pp.save_preset_requested.connect(self.save_preset_dialog)
        tp.train_requested.connect(self.train)
        tp.stop_requested.connect(self.stop)
        tp.cancel_requested.connect(self.cancel)
        mp.open_model_requested.connect(self.open_model_dialog)
        mp.save_model_requested.connect(self.save_model_dialog)
        mp.reconstruct_requested.connect(self.reconstruct)
        mp.export_requested.connect(self.export_dialog)
        w.open_action.triggered.connect(lambda: self.open_dataset_dialog("train"))
        w.open_test_action.triggered.connect(lambda: self.open_dataset_dialog("test"))
        w.open_product_action.triggered.connect(lambda: self.open_product_dialog("train"))
        w.sample_action.triggered.connect(lambda: self.load_sample())
        w.open_model_action.triggered.connect(self.open_model_dialog)
        w.save_model_action.triggered.connect(self.save_model_dialog)
        w.export_npz_action.triggered.connect(lambda: self.export_dialog("npz"))
        w.export_png_action.triggered.connect(lambda: self.export_dialog("png"))
        w.export_h5_action.triggered.connect(lambda: self.export_dialog("h5"))
        w.load_preset_action.triggered.connect(self.load_preset_dialog)
        w.save_preset_action.triggered.connect(self.save_preset_dialog)
        w.quit_action.triggered.connect(w.close)
        w.train_action.triggered.connect(self.train)
        w.stop_action.triggered.connect(self.stop)
        w.cancel_action.triggered.connect(self.cancel)
        w.reconstruct_action.triggered.connect(self.reconstruct)
        w.detect_action.triggered.connect(self.detect_device)
        w.about_action.triggered.connect(lambda: show_about(w))
        w.files_dropped.connect(self.open_paths)
        w.close_requested.connect(self.shutdown)
        w.close_guard = self._may_close

        wk = self.worker
        wk.started.connect(self._job_started)
        wk.yielded.connect(self._job_yielded)
        wk.returned.connect(self._job_returned)
        wk.errored.connect(self._job_errored)
        wk.aborted.connect(self._job_aborted)
        wk.finished.connect(self._job_finished)
        wk.status.connect(self._worker_status)
        wk.device.connect(self._device)
        wk.log.connect(w.log_panel.append_record)
        wk.busy_changed.connect(lambda _: self._update_actions())

    # ================================================================= settings
    def _restore_settings(self) -> None:
        s, w = self.settings, self.window
        for key, restore in (("window/geometry", w.restoreGeometry), ("window/state", w.restoreState),
                             ("window/main-splitter", w.main_splitter.restoreState),
                             ("window/right-splitter", w.right_splitter.restoreState)):
            data = s.load_bytes(key)
            if data is not None:
                restore(data)
        w.data_panel.set_domain(str(s.value("data/domain", "amplitude")))
        backend = str(s.value("parameters/backend", "tensorflow"))
        if backend in ("tensorflow", "pytorch"):
            w.parameter_panel.set_backend(backend)
        w.training_panel.preview_every.setValue(int(s.value("training/preview-every", 5, int)))

    def save_settings(self) -> None:
        s, w = self.settings, self.window
        s.save_bytes("window/geometry", w.saveGeometry())
        s.save_bytes("window/state", w.saveState())
        s.save_bytes("window/main-splitter", w.main_splitter.saveState())
        s.save_bytes("window/right-splitter", w.right_splitter.saveState())
        s.set_value("data/domain", w.data_panel.domain())
        s.set_value("parameters/backend", self.form.backend)
        s.set_value("training/preview-every", w.training_panel.preview_every.value())
        s.save_recent_files(self.recent)
        s.sync()

    def refresh_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        for path in self.recent.items():
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        menu.setEnabled(bool(len(self.recent)))

    def _remember(self, *paths: Path) -> None:
        for path in reversed(paths):
            self.recent.add(path)
        self.settings.save_recent_files(self.recent)
        self.refresh_recent_menu()

    # ================================================================= helpers
    def show_error(self, title: str, message: str, details: str = "") -> QMessageBox:
        logger.error("%s: %s", title, message)
        self.errors.append((title, message))
        box = error_dialog(self.window, title, message, details)
        self.error_dialogs.append(box)
        box.destroyed.connect(lambda *_ , b=box: self.error_dialogs.remove(b) if b in self.error_dialogs else None)
        return box

    def _status(self, text: str, timeout_ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, timeout_ms)

    def _ask_open(self, role: str, title: str, file_filter: str) -> Optional[str]:
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.settings.last_dir(role), file_filter)
        if path:
            self.settings.set_last_dir(role, path)
        return path or None

    def _ask_save(self, role: str, title: str, file_filter: str, name: str) -> Optional[str]:
        start = str(Path(self.settings.last_dir(role)) / name)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, file_filter)
        if path:
            self.settings.set_last_dir(role, path)
        return path or None

    def _busy_cursor(self) -> "_BusyCursor":
        return _BusyCursor()

    # ================================================================= closing
    def _may_close(self) -> bool:
        if getattr(self.window, "force_close", False):
            return True
        questions = []
        if self.worker.busy:
            questions.append("A job is running; it will be cancelled.")
        if self.model_unsaved:
            questions.append("The trained model has not been saved; it will be discarded.")
        if not questions:
            return True
        if QApplication.platformName() in ("offscreen", "minimal"):
            logger.warning("closing without confirmation (no screen to ask on): %s", " ".join(questions))
            return True
        answer = QMessageBox.question(self.window, "Quit", " ".join(questions) + " Quit anyway?",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        return answer == QMessageBox.Yes

    def shutdown(self) -> None:
        try:
            self.save_settings()
        finally:
            self.worker.shutdown()
            self.session.cleanup()


class _BusyCursor:
    def __enter__(self) -> None:
        QApplication.setOverrideCursor(QCursor(Qt.WaitCursor))

    def __exit__(self, *exc: object) -> None:
        QApplication.restoreOverrideCursor()
