"""One-way translation of the dataclasses into the legacy flat dictionary (api spec §2.4).

Nothing in ``ptychopinn_plugin`` reads configuration back from the legacy dictionary;
it exists so code written against the original ``ptycho.params.cfg`` keeps working.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

KEY_MAPPINGS: dict[str, str] = {
    "object_big": "object.big",
    "probe_big": "probe.big",
    "probe_mask": "probe.mask",
    "probe_trainable": "probe.trainable",
    "intensity_scale_trainable": "intensity_scale.trainable",
    "positions_provided": "positions.provided",
    "output_dir": "output_prefix",
    "train_data_file": "train_data_file_path",
    "test_data_file": "test_data_file_path",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def dataclass_to_legacy_dict(obj: Any) -> dict[str, Any]:
    """``asdict(obj)`` with ``model`` flattened, keys renamed by ``KEY_MAPPINGS``, Paths as str."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"expected a configuration dataclass instance, got {type(obj).__name__}")
    flat: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if field.name == "model" and dataclasses.is_dataclass(value):
            for sub in dataclasses.fields(value):
                flat[KEY_MAPPINGS.get(sub.name, sub.name)] = _jsonable(getattr(value, sub.name))
        else:
            flat[KEY_MAPPINGS.get(field.name, field.name)] = _jsonable(value)
    return flat


def update_legacy_dict(cfg: dict, obj: Any) -> None:
    """Write ``dataclass_to_legacy_dict(obj)`` into ``cfg``, skipping None values."""
    for key, value in dataclass_to_legacy_dict(obj).items():
        if value is not None:
            cfg[key] = value
