"""Validation of the parameter forms, backend choice and YAML presets."""

from __future__ import annotations

import logging
from pathlib import Path

from ptychopinn_gui.model.parameters import ValidationReport
from ptychopinn_gui.model.presets import load_preset, save_preset

PRESET_FILTER = "YAML presets (*.yaml *.yml);;All files (*)"

logger = logging.getLogger(__name__)

__all__ = ["ParameterActions"]


class ParameterActions:
    """Mixed into :class:`~ptychopinn_gui.controller.app_controller.AppController` (uses its state)."""

    # ================================================================= parameters
    def validate(self) -> ValidationReport:
        report = self.form.validate()
        self.last_report = report
        self.window.parameter_panel.show_report(report)
        self._update_actions()
        return report

    def _backend_changed(self, backend: str) -> None:
        self.settings.set_value("parameters/backend", backend)
        self.device_text = ""
        self.window.parameter_panel.set_device("device: not detected yet (Detect device)")

    def load_preset(self, path: str | Path) -> bool:
        try:
            load_preset(path, self.form)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot load preset", str(exc))
            return False
        self.window.parameter_panel.set_backend(self.form.backend)
        self.validate()
        self._status(f"loaded preset {path}")
        return True

    def save_preset(self, path: str | Path) -> Path:
        written = save_preset(path, self.form)
        self._status(f"saved preset {written}")
        return written

    def load_preset_dialog(self) -> None:
        path = self._ask_open("presets", "Load parameter preset", PRESET_FILTER)
        if path:
            self.load_preset(path)

    def save_preset_dialog(self) -> None:
        path = self._ask_save("presets", "Save parameter preset", PRESET_FILTER, "ptychopinn-preset.yaml")
        if path:
            self.save_preset(path)
