"""PyTorch payload codec for the model archive (api spec §7.4–§7.5).

The archive layer (framework-free) owns the zip, manifest, checksums and ``params.json``;
this codec only turns one torch model into ``<model>/model.pt`` and back:

* saving writes the model's ``state_dict`` only (``torch.save`` of a dict of tensors,
  atomically) — never a pickled module, so no code travels with the archive;
* loading never trusts the payload: the architecture is **rebuilt from params.json**
  (``model_config``, ``intensity_scale``, ``training_config`` trainability flags), the
  file is read with ``torch.load(weights_only=True, map_location='cpu')`` (the restricted
  unpickler refuses any non-tensor global, so a crafted file cannot run code) and the
  weights go in with ``load_state_dict(strict=True)`` (a missing or extra key is an
  error, unlike the original's ``strict=False``).

The probe needs no special handling: it is a parameter of the PINN core
(``core.illumination.probe_real``/``probe_imag``), so the state dict carries the exact
probe the model used — the rebuild starts from a placeholder and strict loading
overwrites it (the archive's ``probe.npy`` is the same normalised probe, kept for
non-torch readers).  ``'autoencoder'`` and ``'diffraction_to_obj'`` payloads hold the
same ``core.*`` keys; each load returns the view the name asks for.

Layering: backends sit below the archive package, so this module duck-types the
``PayloadCodec`` protocol and parses the two ``params.json`` fields it needs itself.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pickle
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ptychopinn_plugin.config import ModelConfig, validate_model_config

from .models import Autoencoder, DiffractionToObj, build_models
from .saving import save_state_dict

logger = logging.getLogger(__name__)

__all__ = ["TorchPayloadCodec", "MODEL_VIEWS", "model_config_from_params", "rebuild_models"]

MODEL_VIEWS = {"autoencoder": Autoencoder, "diffraction_to_obj": DiffractionToObj}
"""Archive model name → the ``nn.Module`` view returned for it."""


def model_config_from_params(params: Mapping[str, Any]) -> ModelConfig:
    """``ModelConfig`` from ``params['model_config']`` (unknown fields ignored, validated)."""
    raw = params.get("model_config")
    if not isinstance(raw, Mapping):
        raise ValueError(f"params.json: 'model_config' must be an object of ModelConfig fields; got {raw!r}")
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    cfg = ModelConfig(**{k: v for k, v in raw.items() if k in names})
    validate_model_config(cfg, require_n=True)
    return cfg


def _flag(params: Mapping[str, Any], name: str, default: bool) -> bool:
    training = params.get("training_config")
    if isinstance(training, Mapping) and isinstance(training.get(name), bool):
        return bool(training[name])
    return default


def rebuild_models(params: Mapping[str, Any]) -> tuple[Autoencoder, DiffractionToObj]:
    """Fresh ``(autoencoder, diffraction_to_obj)`` with the archived architecture.

    Weights, ``w`` and the probe are placeholders until a state dict is loaded.
    """
    cfg = model_config_from_params(params)
    scale = float(params.get("intensity_scale", 1.0))
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"params.json: intensity_scale = {params.get('intensity_scale')!r}; expected a finite number > 0")
    placeholder = np.ones((cfg.N, cfg.N), dtype=np.complex64)
    return build_models(
        cfg,
        intensity_scale=scale,
        probe=placeholder,
        probe_trainable=_flag(params, "probe_trainable", False),
        intensity_scale_trainable=_flag(params, "intensity_scale_trainable", True),
        seed=0,
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"torch payload {path.name!r} holds objects other than tensors; refusing to load it "
            f"(torch.load(weights_only=True) rejected it: {str(exc).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"torch payload {path.name!r} is not a readable torch file: {exc}") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"torch payload {path.name!r} must be a state dict (str → tensor); found {type(state).__name__}"
        )
    return state


class TorchPayloadCodec:
    """``PayloadCodec`` for the PyTorch backend: ``<model>/model.pt`` = ``state_dict`` only."""

    backend = "pytorch"
    payload_filename = "model.pt"

    def framework_versions(self) -> dict[str, str]:
        import lightning

        return {"torch": torch.__version__, "lightning": lightning.__version__, "numpy": np.__version__}

    def save_model(self, model: nn.Module, path: Path) -> None:
        if not isinstance(model, (Autoencoder, DiffractionToObj)):
            raise TypeError(
                f"the PyTorch codec saves Autoencoder / DiffractionToObj modules; got {type(model).__name__}"
            )
        save_state_dict(model, path)

    def load_model(self, path: Path, *, name: str, params: dict[str, Any]) -> nn.Module:
        view = MODEL_VIEWS.get(name)
        if view is None:
            raise ValueError(f"unknown torch model name {name!r}; the archive format knows {sorted(MODEL_VIEWS)}")
        autoencoder, diffraction_to_obj = rebuild_models(params)
        model = autoencoder if view is Autoencoder else diffraction_to_obj
        state = _read_state_dict(Path(path))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"torch payload of model {name!r} does not match the architecture rebuilt from params.json "
                f"(strict loading): {exc}"
            ) from None
        return model.eval()

    def derivable(self, source: Any, model: Any) -> bool:
        """Whether ``model`` is ``source``'s inference view (the same core object), so that
        storing ``source`` alone loses nothing."""
        return isinstance(source, Autoencoder) and isinstance(model, DiffractionToObj) and model.core is source.core

    def derive_model(self, source: nn.Module, *, name: str, source_name: str, params: dict[str, Any]) -> nn.Module:
        """``diffraction_to_obj`` from a decoded ``autoencoder``: the same core, weights shared
        (format 3.1: the archive stores these weights once)."""
        if name != "diffraction_to_obj" or source_name != "autoencoder" or not isinstance(source, Autoencoder):
            raise ValueError(f"the PyTorch codec derives 'diffraction_to_obj' from 'autoencoder' only; asked for "
                             f"{name!r} from {source_name!r} ({type(source).__name__})")
        return DiffractionToObj(source.core).eval()

    def verify_model(self, model: nn.Module, *, name: str, model_config: ModelConfig) -> None:
        """Input ``(B, C, N, N)`` / ``(B, C, 1, 2)``; output ``(B, 1, N, N)`` complex64 (plus,
        for the PINN autoencoder, two ``(B, C, N, N)`` float32 tensors) — checked by a
        forward pass on one zero group."""
        n, c = int(model_config.N), int(model_config.gridsize) ** 2
        core = getattr(model, "core", None)
        if core is None or int(core.N) != n or int(core.channels) != c:
            found = None if core is None else (int(core.channels), int(core.N), int(core.N))
            raise ValueError(f"model {name!r} expects inputs (B, C, N, N) = (B, {found}); expected (B, {c}, {n}, {n})")
        x = torch.zeros(1, c, n, n)
        positions = torch.zeros(1, c, 1, 2)
        with torch.inference_mode():
            out = model(x, positions, torch.ones(1))
        outputs = out if isinstance(out, tuple) else (out,)
        if tuple(outputs[0].shape) != (1, 1, n, n) or outputs[0].dtype != torch.complex64:
            raise ValueError(
                f"model {name!r} returns {tuple(outputs[0].shape)} {outputs[0].dtype}; expected (B, 1, {n}, {n}) complex64"
            )
        if isinstance(model, Autoencoder) and model.model_type == "pinn":
            shapes = [tuple(o.shape) for o in outputs[1:]]
            if shapes != [(1, c, n, n)] * 2:
                raise ValueError(f"model {name!r} returns amplitude/intensity {shapes}; expected two (B, {c}, {n}, {n})")
