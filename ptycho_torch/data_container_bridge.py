"""``PtychoDataContainerTorch``: the seed name for grouped data as torch tensors (§4T.9);
the torch backend's container view (data §3.2), re-exported."""

from __future__ import annotations

from typing import Any

__all__ = ["PtychoDataContainerTorch"]


def __getattr__(name: str) -> Any:
    if name == "PtychoDataContainerTorch":
        from ptychopinn_plugin.backends.torch.container import PtychoDataContainerTorch

        return PtychoDataContainerTorch
    raise AttributeError(f"module 'ptycho_torch.data_container_bridge' has no attribute {name!r}")
