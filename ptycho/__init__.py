"""Compatibility package: the ``ptycho`` names Ptychodus's built-in PtychoPINN support uses.

A thin re-export layer over :mod:`ptychopinn_plugin` (api spec §4).  Submodules are
resolved lazily on attribute access because older Ptychodus code calls e.g.
``ptycho.probe.set_probe_guess`` without importing ``ptycho.probe`` first.  Importing
this package loads no deep-learning framework and no Qt.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = frozenset(
    {
        "config",
        "params",
        "raw_data",
        "loader",
        "probe",
        "tf_helper",
        "model",
        "model_manager",
        "workflows",
        "evaluation",
    }
)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ptycho' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
