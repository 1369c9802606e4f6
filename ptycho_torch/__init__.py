"""Compatibility package: the ``ptycho_torch`` names stock Ptychodus 1.7's "PtychoPINN-Torch"
reconstructors use (specs/ptycho_torch_compat.md, §4T).

A thin translation layer over :mod:`ptychopinn_plugin.backends.torch`: the Ptychodus
settings arrive as the five config classes of :mod:`ptycho_torch.config_params`,
:mod:`ptycho_torch.config_bridge` turns them into our typed configs, and training,
checkpoints and inference run on our PyTorch backend.  Importing this package (and
``ptycho_torch.config_params`` and ``ptycho_torch.api``) loads no torch, lightning,
tensordict, TensorFlow or Qt: Ptychodus imports the configs in its GUI process (§4T.2).
Submodules resolve lazily on attribute access.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_SUBMODULES = frozenset(
    {
        "api",
        "config_bridge",
        "config_params",
        "data_container_bridge",
        "dataloader",
        "lightning_utils",
        "model",
        "raw_data_bridge",
    }
)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ptycho_torch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
