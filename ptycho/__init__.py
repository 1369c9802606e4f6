"""Compatibility package: the ``ptycho`` names Ptychodus's built-in PtychoPINN support uses.

A thin re-export layer over :mod:`ptychopinn_plugin` (api spec §4).  Submodules are
resolved lazily on attribute access because older Ptychodus code calls e.g.
``ptycho.probe.set_probe_guess`` without importing ``ptycho.probe`` first.  Importing
this package loads no deep-learning framework and no Qt.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_submodules

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


__getattr__, __dir__ = lazy_submodules(__name__, _SUBMODULES, globals())
