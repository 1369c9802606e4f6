"""Parameters panel: forms generated from the configuration dataclasses.

One tab per :class:`~ptychopinn_gui.model.parameters.ParameterSet` (Model, Training,
PyTorch execution, Inference), one row per field with the field's docstring as tooltip
and an inline error line.  A backend selector shows the device the worker reported.
Values flow both ways: user edits → ParameterSet (then ``changed`` is emitted so the
controller re-validates); ParameterSet changes (presets, N from the data) → widgets.
"""

from __future__ import annotations

from typing import Any, Optional

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ptychopinn_gui.model.parameters import ConfigForm, ParameterSet, ValidationReport, field_key
from ptychopinn_gui.view.editors import Editor, make_editor

__all__ = ["ParameterPanel", "BACKEND_LABELS"]

BACKEND_LABELS = (("TensorFlow", "tensorflow"), ("PyTorch", "pytorch"))
ERROR_STYLE = "color: #d32f2f;"
WARNING_STYLE = "color: #b26a00;"


class _FieldRow:
    def __init__(self, editor: Editor, message: QLabel) -> None:
        self.editor = editor
        self.message = message


class ParameterForm(QScrollArea):
    """Generated form for one ParameterSet."""

    changed = pyqtSignal(str, object)

    def __init__(self, params: ParameterSet, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.params = params
        self.setWidgetResizable(True)
        body = QWidget()
        form = QFormLayout(body)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.rows: dict[str, _FieldRow] = {}
        for spec in params.specs:
            editor = make_editor(spec)
            editor.set_value(params.get(spec.name))
            editor.edited.connect(lambda value, name=spec.name: self._edited(name, value))
            message = QLabel()
            message.setWordWrap(True)
            message.setVisible(False)
            message.setObjectName(f"error:{spec.owner}.{spec.name}")
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(1)
            box.addWidget(editor)
            box.addWidget(message)
            label = QLabel(spec.name)
            label.setToolTip(editor.toolTip())
            form.addRow(label, cell)
            self.rows[spec.name] = _FieldRow(editor, message)
        self.setWidget(body)
        params.add_listener(self._model_changed)

    def _edited(self, name: str, value: Any) -> None:
        self.params.set(name, value)

    def _model_changed(self, name: str, value: Any) -> None:
        row = self.rows.get(name)
        if row is not None:
            row.editor.set_value(value)
        self.changed.emit(name, value)

    def show_report(self, report: ValidationReport) -> None:
        for name, row in self.rows.items():
            key = field_key(self.params.owner, name)
            error = report.errors.get(key)
            warning = report.warnings.get(key)
            row.editor.set_invalid(error is not None)
            text = error or warning or ""
            row.message.setText(text)
            row.message.setStyleSheet(ERROR_STYLE if error else WARNING_STYLE)
            row.message.setVisible(bool(text))

    def editor(self, name: str) -> Editor:
        return self.rows[name].editor


class ParameterPanel(QWidget):
    backend_changed = pyqtSignal(str)
    detect_device_requested = pyqtSignal()
    load_preset_requested = pyqtSignal()
    save_preset_requested = pyqtSignal()
    changed = pyqtSignal()

    def __init__(self, form: ConfigForm, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.form = form
        layout = QVBoxLayout(self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Backend:"))
        self.backend_combo = QComboBox()
        self.backend_combo.setObjectName("backend")
        for label, value in BACKEND_LABELS:
            self.backend_combo.addItem(label, value)
        self.backend_combo.setToolTip("Deep-learning framework used for training (TrainingConfig.backend); "
                                      "inference always uses the model archive's backend")
        self.backend_combo.currentIndexChanged.connect(self._backend_edited)
        top.addWidget(self.backend_combo)
        self.device_label = QLabel("device: not detected yet")
        self.device_label.setObjectName("device")
        top.addWidget(self.device_label, 1)
        self.detect_button = QPushButton("Detect device")
        self.detect_button.setToolTip("Start the worker, import the backend and report CPU/GPU")
        self.detect_button.clicked.connect(self.detect_device_requested)
        top.addWidget(self.detect_button)
        layout.addLayout(top)

        presets = QHBoxLayout()
        load = QPushButton("Load preset…")
        load.clicked.connect(self.load_preset_requested)
        save = QPushButton("Save preset…")
        save.clicked.connect(self.save_preset_requested)
        presets.addWidget(load)
        presets.addWidget(save)
        presets.addStretch(1)
        layout.addLayout(presets)

        self.banner = QLabel()
        self.banner.setObjectName("validation-banner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        layout.addWidget(self.banner)

        self.tabs = QTabWidget()
        self.forms: dict[str, ParameterForm] = {}
        for title, params in (("Model", form.model), ("Training", form.training),
                              ("PyTorch execution", form.torch), ("Inference", form.inference)):
            page = ParameterForm(params)
            page.changed.connect(lambda *_: self.changed.emit())
            self.forms[params.owner] = page
            self.tabs.addTab(page, title)
        layout.addWidget(self.tabs, 1)
        self.set_backend(form.backend)

    def _backend_edited(self) -> None:
        value = self.backend_combo.currentData()
        self.form.backend = value
        self._torch_tab_enabled(value == "pytorch")
        self.backend_changed.emit(value)
        self.changed.emit()

    def _torch_tab_enabled(self, enabled: bool) -> None:
        index = self.tabs.indexOf(self.forms["PyTorchExecutionConfig"])
        self.tabs.setTabEnabled(index, enabled)
        self.tabs.setTabToolTip(index, "" if enabled else "Used only with the PyTorch backend")

    def set_backend(self, backend: str) -> None:
        index = self.backend_combo.findData(backend)
        self.backend_combo.blockSignals(True)
        self.backend_combo.setCurrentIndex(max(index, 0))
        self.backend_combo.blockSignals(False)
        self.form.backend = backend
        self._torch_tab_enabled(backend == "pytorch")

    def set_device(self, text: str) -> None:
        self.device_label.setText(text)

    def show_report(self, report: ValidationReport) -> None:
        for page in self.forms.values():
            page.show_report(report)
        lines = []
        if report.errors:
            lines.append(f"{len(report.errors)} invalid value(s): " + "; ".join(report.errors.values()))
        lines += report.general
        self.banner.setText("\n".join(lines))
        self.banner.setStyleSheet(ERROR_STYLE)
        self.banner.setVisible(bool(lines))
        for owner, page in self.forms.items():
            index = self.tabs.indexOf(page)
            bad = any(k.startswith(owner + ".") for k in report.errors)
            self.tabs.tabBar().setTabTextColor(index, Qt.red if bad else self.palette().windowText().color())
