"""One editor widget per :class:`~ptychopinn_gui.model.fields.FieldSpec` kind.

* ``int`` → ``QSpinBox`` with the range derived from validation (None shown as
  "(none)" one step below the minimum);
* ``float`` → a spin box that reads and writes ``%g`` (``1e9``, ``0.001``);
* ``bool`` → ``QCheckBox``; choices (``Literal`` / validator constants) → ``QComboBox``;
* ``path`` → line edit + "…" file picker; other types → line edit parsed as a YAML scalar.

Every editor emits ``edited(value)`` on user changes only, and ``set_value`` never
re-emits, so a model → view update cannot loop back.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import yaml
from PyQt5.QtCore import pyqtSignal
from PyQt5.QtGui import QValidator
from PyQt5.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ptychopinn_gui.model.fields import FieldKind, FieldSpec

__all__ = ["Editor", "make_editor", "ScientificSpinBox", "NONE_TEXT"]

NONE_TEXT = "(none)"
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e300
INVALID_STYLE = "border: 1px solid #d32f2f;"


class ScientificSpinBox(QDoubleSpinBox):
    """A double spin box showing ``%g`` text (QDoubleSpinBox's fixed decimals cannot show 1e9 and 1e-6)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)
        self.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return f"{value:.10g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt API
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        stripped = text.strip()
        if self.specialValueText() and stripped == self.specialValueText():
            return QValidator.Acceptable, text, pos
        try:
            float(stripped)
            return QValidator.Acceptable, text, pos
        except ValueError:
            if stripped in ("", "-", "+", ".", "-.", "+.") or stripped.lower().endswith(("e", "e-", "e+")):
                return QValidator.Intermediate, text, pos
            return QValidator.Invalid, text, pos


class Editor(QWidget):
    """Base: a container holding the real input widget; ``edited(value)`` on user edits."""

    edited = pyqtSignal(object)

    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.input: QWidget = QWidget()
        self._updating = False

    def _finish(self, widget: QWidget) -> None:
        self.input = widget
        self._layout.addWidget(widget, 1)
        tip = self.spec.doc or self.spec.name
        self.setToolTip(f"<b>{self.spec.owner}.{self.spec.name}</b><br>{tip}")
        widget.setObjectName(f"{self.spec.owner}.{self.spec.name}")

    def set_value(self, value: Any) -> None:
        self._updating = True
        try:
            self._set(value)
        finally:
            self._updating = False

    def _set(self, value: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _emit(self, *_: Any) -> None:
        if not self._updating:
            self.edited.emit(self.value())

    def set_invalid(self, invalid: bool) -> None:
        self.input.setStyleSheet(INVALID_STYLE if invalid else "")


class IntEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        box = QSpinBox()
        low = spec.lower_bound
        low = -INT_LIMIT + 1 if low is None else int(low)
        if spec.optional:
            low = max(low, 0) if spec.lower_bound is None else low
            box.setSpecialValueText(NONE_TEXT)
            low -= 1
        high = INT_LIMIT if spec.maximum is None else int(spec.maximum)
        box.setRange(low, high)
        box.setKeyboardTracking(False)
        box.setAccelerated(True)
        self._none_value = low if spec.optional else None
        box.valueChanged.connect(self._emit)
        self._finish(box)

    def _set(self, value: Any) -> None:
        box: QSpinBox = self.input  # type: ignore[assignment]
        if value is None and self._none_value is not None:
            box.setValue(self._none_value)
        elif isinstance(value, int) and not isinstance(value, bool):
            box.setValue(max(box.minimum(), min(box.maximum(), value)))

    def value(self) -> Any:
        v = self.input.value()  # type: ignore[attr-defined]
        return None if self._none_value is not None and v == self._none_value else int(v)


class FloatEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        box = ScientificSpinBox()
        low = spec.minimum if spec.minimum is not None else spec.exclusive_minimum
        low = -FLOAT_LIMIT if low is None else float(low)
        high = FLOAT_LIMIT if spec.maximum is None else float(spec.maximum)
        box.setRange(low, high)
        self._none_value = None
        if spec.optional:
            box.setSpecialValueText(NONE_TEXT)
            self._none_value = low
        box.valueChanged.connect(self._emit)
        self._finish(box)

    def _set(self, value: Any) -> None:
        box: ScientificSpinBox = self.input  # type: ignore[assignment]
        if value is None and self._none_value is not None:
            box.setValue(self._none_value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            box.setValue(float(value))

    def value(self) -> Any:
        v = float(self.input.value())  # type: ignore[attr-defined]
        return None if self._none_value is not None and v == self._none_value else v


class BoolEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        box = QCheckBox()
        box.toggled.connect(self._emit)
        self._finish(box)

    def _set(self, value: Any) -> None:
        self.input.setChecked(bool(value))  # type: ignore[attr-defined]

    def value(self) -> Any:
        return bool(self.input.isChecked())  # type: ignore[attr-defined]


class ChoiceEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        box = QComboBox()
        choices = list(spec.choices)
        if spec.optional and None not in choices:
            choices = [None, *choices]
        for choice in choices:
            box.addItem(NONE_TEXT if choice is None else str(choice), choice)
        box.currentIndexChanged.connect(self._emit)
        self._finish(box)

    def _set(self, value: Any) -> None:
        box: QComboBox = self.input  # type: ignore[assignment]
        for i in range(box.count()):
            data = box.itemData(i)
            if data == value and type(data) is type(value):
                box.setCurrentIndex(i)
                return
        box.addItem(str(value), value)  # an out-of-list value stays visible (and is flagged)
        box.setCurrentIndex(box.count() - 1)

    def value(self) -> Any:
        return self.input.currentData()  # type: ignore[attr-defined]


class PathEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        edit = QLineEdit()
        edit.setPlaceholderText(NONE_TEXT if spec.optional else "")
        edit.editingFinished.connect(self._emit)
        self._finish(edit)
        button = QToolButton()
        button.setText("…")
        button.setToolTip("Choose a path")
        button.clicked.connect(self._browse)
        self._layout.addWidget(button)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, f"Choose {self.spec.name}", self.input.text())  # type: ignore
        if path:
            self.input.setText(path)  # type: ignore[attr-defined]
            self._emit()

    def _set(self, value: Any) -> None:
        self.input.setText("" if value is None else str(value))  # type: ignore[attr-defined]

    def value(self) -> Any:
        text = self.input.text().strip()  # type: ignore[attr-defined]
        return None if not text and self.spec.optional else text


class TextEditor(Editor):
    def __init__(self, spec: FieldSpec, parent: Optional[QWidget] = None) -> None:
        super().__init__(spec, parent)
        edit = QLineEdit()
        edit.setPlaceholderText(NONE_TEXT if spec.optional else "")
        edit.editingFinished.connect(self._emit)
        self._finish(edit)

    def _set(self, value: Any) -> None:
        self.input.setText("" if value is None else str(value))  # type: ignore[attr-defined]

    def value(self) -> Any:
        text = self.input.text().strip()  # type: ignore[attr-defined]
        if not text:
            return None if self.spec.optional else ""
        if self.spec.annotation is str:
            return text
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text


_EDITORS = {
    FieldKind.INT: IntEditor,
    FieldKind.FLOAT: FloatEditor,
    FieldKind.BOOL: BoolEditor,
    FieldKind.CHOICE: ChoiceEditor,
    FieldKind.PATH: PathEditor,
    FieldKind.TEXT: TextEditor,
}


def make_editor(spec: FieldSpec, parent: Optional[QWidget] = None) -> Editor:
    return _EDITORS.get(spec.kind, TextEditor)(spec, parent)
