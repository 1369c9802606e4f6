"""Which device a backend computes on (asked in the worker, never in the GUI process).

Adapter: the backends expose no device query yet.  PyTorch has
``backends.torch.execution.resolve_accelerator``; for TensorFlow we read the module that
``resolve_backend('tensorflow')`` has already imported (``sys.modules``), so this file
adds no framework import of its own.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional

logger = logging.getLogger(__name__)

__all__ = ["describe_device"]


def _tensorflow() -> dict[str, Any]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return {"device": "unknown", "framework_version": "?"}
    try:
        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # noqa: BLE001 - purely informational
        logger.debug("cannot list TensorFlow devices: %s", exc)
        gpus = []
    device = f"GPU ({len(gpus)}: {', '.join(g.name for g in gpus)})" if gpus else "CPU"
    return {"device": device, "framework_version": str(getattr(tf, "__version__", "?"))}


def _pytorch(accelerator: Optional[str]) -> dict[str, Any]:
    from ptychopinn_plugin.backends.torch.execution import resolve_accelerator

    torch = sys.modules.get("torch")
    resolved = resolve_accelerator(accelerator or "auto")
    if resolved in ("cuda", "gpu") and torch is not None and torch.cuda.is_available():
        device = f"GPU ({torch.cuda.get_device_name(0)})"
    elif resolved == "mps":
        device = "GPU (Apple MPS)"
    else:
        device = "CPU"
    # str(): torch.__version__ is a TorchVersion (a str subclass defined in torch);
    # unpickling it would import torch into the GUI process.
    return {"device": device, "framework_version": str(getattr(torch, "__version__", "?"))}


def describe_device(backend: str, accelerator: Optional[str] = None) -> dict[str, Any]:
    """``{'backend', 'device' ('CPU' or 'GPU (…)'), 'framework_version'}`` for an imported backend."""
    info = _tensorflow() if backend == "tensorflow" else _pytorch(accelerator)
    info["backend"] = backend
    return info
