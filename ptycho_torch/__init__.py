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

from ptychopinn_plugin.util.lazy import lazy_submodules

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


__getattr__, __dir__ = lazy_submodules(__name__, _SUBMODULES, globals())
