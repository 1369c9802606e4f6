"""TensorFlow payload codec for the model archive (api spec §7.4–§7.5).

The archive layer (framework-free) owns the zip, manifest and checksums; this codec only
turns one Keras model into ``model.keras`` and back, with the safe loader of
:mod:`ptychopinn_plugin.backends.tf.saving`, and checks the loaded model's tensor
shapes against the archived ``N`` and ``gridsize`` (§3, §7.5 item 7).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ptychopinn_plugin.config import ModelConfig

from .saving import load_keras_model, save_keras_model

logger = logging.getLogger(__name__)

__all__ = ["KerasPayloadCodec"]


def _shape(tensor: Any) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape)


class KerasPayloadCodec:
    """``PayloadCodec`` for the TensorFlow backend: ``<model>/model.keras``."""

    backend = "tensorflow"
    payload_filename = "model.keras"

    def framework_versions(self) -> dict[str, str]:
        return {"tensorflow": tf.__version__, "keras": keras.__version__}

    def save_model(self, model: keras.Model, path: Path) -> None:
        save_keras_model(model, path)

    def load_model(self, path: Path, *, name: str, params: dict[str, Any]) -> keras.Model:
        # safe_mode=True, compile=False, custom_objects = our registered layers only
        return load_keras_model(path)

    def derivable(self, source: Any, model: Any) -> bool:
        """Whether every weight of ``model`` is one of ``source``'s (shared layers) and its
        output is ``source``'s first, so that storing ``source`` alone loses nothing."""
        if not isinstance(source, keras.Model) or not isinstance(model, keras.Model):
            return False
        own = {id(w) for w in source.weights}
        return all(id(w) in own for w in model.weights) and model.outputs[0] is source.outputs[0]

    def derive_model(self, source: keras.Model, *, name: str, source_name: str, params: dict[str, Any]) -> keras.Model:
        """``diffraction_to_obj`` from a decoded ``autoencoder``: its first output (``trimmed_obj``)
        over the same layers, weights shared — as ``build_models`` makes it (format 3.1)."""
        if name != "diffraction_to_obj" or source_name != "autoencoder":
            raise ValueError(f"the TensorFlow codec derives 'diffraction_to_obj' from 'autoencoder' only; asked for "
                             f"{name!r} from {source_name!r}")
        return keras.Model(source.inputs, source.outputs[0], name="diffraction_to_obj")

    def verify_model(self, model: keras.Model, *, name: str, model_config: ModelConfig) -> None:
        """Inputs ``(B,N,N,C)`` and ``(B,1,2,C)``; first output ``(B,N,N,1)``; further
        outputs (autoencoder) ``(B,N,N,C)``."""
        n, c = model_config.N, model_config.gridsize ** 2
        expected_inputs = [(None, n, n, c), (None, 1, 2, c)]
        found_inputs = [_shape(t) for t in model.inputs]
        if found_inputs != expected_inputs:
            raise ValueError(f"model {name!r} has input shapes {found_inputs}; expected {expected_inputs}")
        found_outputs = [_shape(t) for t in model.outputs]
        expected_outputs = [(None, n, n, 1)] + [(None, n, n, c)] * (len(found_outputs) - 1)
        if found_outputs != expected_outputs:
            raise ValueError(f"model {name!r} has output shapes {found_outputs}; expected {expected_outputs}")
