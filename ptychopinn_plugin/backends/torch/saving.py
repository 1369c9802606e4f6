"""State-dict files of the torch models (api spec §7.4 payload, §7.5 item 6).

Only the ``state_dict`` is saved (``torch.save``, written atomically); loading uses
``torch.load(weights_only=True, map_location='cpu')`` — no arbitrary unpickling — and
``load_state_dict(strict=True)`` so a mismatching architecture fails loudly (the
original used ``strict=False``).  The architecture itself is rebuilt by the caller from
the archived configuration.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from ptychopinn_plugin.util.atomic import atomic_path

logger = logging.getLogger(__name__)

__all__ = ["save_state_dict", "load_state_dict"]


def save_state_dict(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``model.state_dict()`` (tensors moved to the CPU) to ``path`` atomically."""
    path = Path(path)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
    logger.debug("saved state dict with %d tensors to %s", len(state), path)
    return path


def load_state_dict(path: str | os.PathLike[str], model: nn.Module) -> nn.Module:
    """Load ``path`` into ``model`` (``weights_only=True``, CPU, ``strict=True``); returns ``model``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch state-dict file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (found {type(state).__name__})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"state dict {path} does not match the model architecture: {exc}") from exc
    return model
