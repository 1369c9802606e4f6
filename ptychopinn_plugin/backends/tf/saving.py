"""Save/load the Keras models as native ``.keras`` files (api spec §7.4/§7.5 item 6).

Loading is always ``safe_mode=True`` with ``custom_objects`` limited to our own
registered layer classes: no Lambda layers exist, and unsafe deserialisation is never
enabled, so a model file cannot run code.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keras

from ptychopinn_plugin.util.atomic import atomic_path

from .models import custom_objects

logger = logging.getLogger(__name__)

__all__ = ["save_keras_model", "load_keras_model", "verify_model_shapes"]


def save_keras_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` (must end with ``.keras``) atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Keras model files must end with '.keras'; got {path}")
    optimizer = getattr(model, "optimizer", None)
    with atomic_path(path, suffix=".keras") as tmp:
        # No optimiser state (issue #12): models are always loaded with compile=False, so
        # Adam's two moment copies of every weight were never read back.  Keras writes
        # whatever the model's ``optimizer`` attribute holds, so it is detached meanwhile.
        if optimizer is not None:
            model.optimizer = None
        try:
            model.save(tmp)
        finally:
            if optimizer is not None:
                model.optimizer = optimizer
    logger.debug("saved Keras model %r to %s", model.name, path)
    return path


def load_keras_model(path: str | os.PathLike[str]) -> keras.Model:
    """Load a ``.keras`` file safely (``safe_mode=True``, ``compile=False``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Keras model file not found: {path}")
    return keras.saving.load_model(path, custom_objects=custom_objects(), compile=False, safe_mode=True)


def verify_model_shapes(model: keras.Model, N: int, gridsize: int) -> None:
    """Check a loaded model's I/O against ``N`` and ``gridsize`` (api spec §7.5 item 7).

    ``input`` must be ``(None, N, N, C)``, ``input_positions`` ``(None, 1, 2, C)`` and
    the first output ``(None, N, N, 1)`` with ``C = gridsize²``; otherwise ``ValueError``.
    """
    channels = int(gridsize) ** 2
    expected_inputs = [(None, N, N, channels), (None, 1, 2, channels)]
    inputs = [tuple(t.shape) for t in model.inputs]
    if inputs != expected_inputs:
        raise ValueError(
            f"model {model.name!r} has inputs {inputs} but N = {N}, gridsize = {gridsize} need {expected_inputs}"
        )
    first_output = tuple(model.outputs[0].shape)
    if first_output != (None, N, N, 1):
        raise ValueError(
            f"model {model.name!r} outputs {first_output} first but N = {N} needs (None, {N}, {N}, 1)"
        )
