"""Parameter presets as YAML files (``yaml.safe_dump`` / ``load_yaml_config``).

The file is a training YAML that ``ptychopinn-train --config`` understands (``model:``
plus TrainingConfig fields, ``backend``) with two extra sections the app also restores:
``torch_execution:`` (PyTorchExecutionConfig) and ``inference:`` (InferenceConfig
fields).  Plain CLI YAML files load too.  Files are written atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from ptychopinn_plugin.config import load_yaml_config
from ptychopinn_plugin.util.atomic import atomic_write_text

from ptychopinn_gui.model.parameters import ConfigForm

logger = logging.getLogger(__name__)

__all__ = ["save_preset", "load_preset", "PRESET_HEADER"]

PRESET_HEADER = (
    "# ptychopinn-gui parameter preset.\n"
    "# Top level: model: + TrainingConfig fields (as for ptychopinn-train --config);\n"
    "# torch_execution: and inference: are restored by the desktop app.\n"
)


def save_preset(path: str | os.PathLike[str], form: ConfigForm) -> Path:
    path = Path(path)
    text = PRESET_HEADER + yaml.safe_dump(form.to_preset(), sort_keys=False, default_flow_style=False)
    atomic_write_text(path, text)
    logger.info("saved parameter preset %s", path)
    return path


def load_preset(path: str | os.PathLike[str], form: ConfigForm) -> list[str]:
    """Apply ``path`` to ``form``; returns the keys that were ignored. Errors name the file."""
    doc = load_yaml_config(path)
    try:
        ignored = form.apply_preset(doc)
    except ValueError as exc:
        raise ValueError(f"preset {path}: {exc}") from exc
    if ignored:
        logger.info("preset %s: ignored app-controlled keys %s", path, ", ".join(ignored))
    logger.info("loaded parameter preset %s", path)
    return ignored
