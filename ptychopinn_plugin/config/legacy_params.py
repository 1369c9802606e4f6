"""The legacy process-wide parameter dictionary (``ptycho.params``, api spec §2.5).

This is the only global mutable state the project keeps, for compatibility with code
(Ptychodus's built-in reconstructor among it) written against the original
``ptycho.params``. Library code writes to it one way (``update_legacy_dict``) and
never reads configuration back from it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from ptychopinn_plugin.config.legacy import dataclass_to_legacy_dict
from ptychopinn_plugin.config.model_config import ModelConfig
from ptychopinn_plugin.config.training_config import TrainingConfig

logger = logging.getLogger(__name__)

LEGACY_ONLY_DEFAULTS: dict[str, Any] = {
    "default_probe_scale": 0.7,
    "h5_path": "wts.h5",
    "data_source": "generic",
}
RUNTIME_KEYS = frozenset({"intensity_scale", "probe", "timestamp"})
DERIVED_KEYS = ("bigN", "padded_size", "padding_size")

_MISSING = object()


def initial_cfg() -> dict[str, Any]:
    """Dataclass defaults through ``dataclass_to_legacy_dict`` plus legacy-only keys."""
    values = dataclass_to_legacy_dict(TrainingConfig(model=ModelConfig()))
    values.update(LEGACY_ONLY_DEFAULTS)
    return values


cfg: dict[str, Any] = initial_cfg()
_sealed = False


def get_bigN() -> int:
    """Object-big canvas base size: ``N + (gridsize - 1)·offset``."""
    return int(cfg["N"]) + (int(cfg["gridsize"]) - 1) * int(cfg["offset"])


def get_padding_size() -> int:
    return (int(cfg["gridsize"]) - 1) * int(cfg["offset"]) + int(cfg["max_position_jitter"])


def get_padded_size() -> int:
    """Canvas side ``P = bigN + max_position_jitter``."""
    return get_bigN() + int(cfg["max_position_jitter"])


_DERIVED = {"bigN": get_bigN, "padded_size": get_padded_size, "padding_size": get_padding_size}


def get(key: str, default: Any = _MISSING) -> Any:
    """Value of ``key``; derived keys are computed; absent without default → KeyError."""
    if key in _DERIVED:
        return _DERIVED[key]()
    if key in cfg:
        return cfg[key]
    if default is _MISSING:
        raise KeyError(f"params.cfg has no key {key!r}")
    return default


def set(key: str, value: Any) -> None:  # noqa: A001 - legacy public name
    """Set ``key``; after ``seal()`` only runtime keys are written silently."""
    if _sealed and key not in RUNTIME_KEYS:
        logger.warning("params.cfg is sealed; writing %r anyway", key)
    cfg[key] = value


def params() -> dict[str, Any]:
    """A copy of the dictionary including the derived keys."""
    out = copy.copy(cfg)
    for key, fn in _DERIVED.items():
        try:
            out[key] = fn()
        except (KeyError, TypeError, ValueError):
            pass
    return out


def seal() -> None:
    global _sealed
    _sealed = True


def unseal() -> None:
    global _sealed
    _sealed = False


def is_sealed() -> bool:
    return _sealed


def reset() -> None:
    """Restore the import-time contents (tests; never called by library code)."""
    global _sealed
    cfg.clear()
    cfg.update(initial_cfg())
    _sealed = False
