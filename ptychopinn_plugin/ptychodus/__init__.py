"""Ptychodus integration (api spec §5.2): our reconstructor library and the launcher.

* :class:`PtychoPINNLibrary` — ``'PtychoPINN (ptychopinn)'`` with the 'PINN' and
  'Supervised' reconstructors (Ptychodus 1.7 ``TrainableReconstructor`` API);
* :class:`PtychoPINNSettings` — the ``PtychoPINNModel/Training/Inference/Execution``
  settings groups;
* :func:`create_raw_data`, :func:`export_training_data` — Ptychodus input → our dataset;
* ``ptychopinn_plugin.ptychodus.launcher`` — ``ptychopinn-ptychodus``: the stock
  Ptychodus application with this library added.

All Ptychodus imports live in :mod:`._ptychodus_api`.  Names resolve lazily (PEP 562):
importing this package imports neither Ptychodus, a framework nor Qt.  Training and
reconstruction run in spawned child processes; this process stays NumPy-only.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_exports


_EXPORTS = {
    "PtychoPINNLibrary": "library",
    "PtychoPINNReconstructor": "library",
    "LIBRARY_NAME": "library",
    "PtychoPINNSettings": "settings",
    "create_raw_data": "conversion",
    "export_training_data": "conversion",
    "output_product": "conversion",
    "ChildProcessDied": "_child",
    "PtychoPINNChildError": "_child",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
