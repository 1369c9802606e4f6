"""The process's "current model" (api spec §6.1 step 4, §7.4; physics §12.2).

Why process-level state: the compatibility API that Ptychodus 1.7 drives is
``run_cdi_example(...)`` followed by ``ptycho.model_manager.save(out_prefix)`` — the
second call receives only a path, never the trained model, and ``ptycho.model.autoencoder``
is read as a module attribute.  Something in the process must therefore remember the
last model that was trained or loaded.  This module is that one place (besides the
legacy ``params.cfg``): a single slot holding an immutable :class:`CurrentModel`
record, replaced as a whole by training and by the compatibility loaders.

Library code passes models explicitly wherever it can (``load_archive`` returns them,
the predictor carries its model).  The one library reader is ``ptychopinn-train``, which
runs a single training per process and archives the model it just trained with
:func:`save_model` — exactly the Ptychodus sequence.  The slot starts empty,
so saving before any training raises ``RuntimeError("no trained model to save")``
instead of silently saving an untrained singleton (finding SINGLETON-SAVE-001).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.config import ModelConfig, TrainingConfig

logger = logging.getLogger(__name__)

__all__ = [
    "CurrentModel",
    "NO_MODEL_MESSAGE",
    "clear_current_model",
    "current_model",
    "require_current_model",
    "save_model",
    "set_current_model",
]

NO_MODEL_MESSAGE = (
    "no trained model to save: train one first (run_cdi_example / train_cdi_model) "
    "or load one (load_inference_bundle)"
)


@dataclass(frozen=True, eq=False)
class CurrentModel:
    """A trained or loaded model pair and everything needed to archive or apply it."""

    backend: str
    """``'tensorflow'`` or ``'pytorch'``."""
    models: dict[str, Any]
    """``{'autoencoder': …, 'diffraction_to_obj': …}`` (backend objects)."""
    model_config: ModelConfig
    training_config: Optional[TrainingConfig]
    intensity_scale: float
    """Training ``s``: inference feeds ``s·X`` (api spec §7.3)."""
    intensity_scale_trained: float
    """``exp(w_final)``."""
    probe: np.ndarray
    """Normalised probe used by the model, complex64 ``(N, N)``."""
    history: Optional[dict[str, list[float]]] = None
    completed: bool = True
    """False when training was stopped by the caller (archived as ``completed: false``)."""
    source: Optional[Path] = None
    """Archive the model was loaded from (None after training)."""
    reproducibility: Optional[dict[str, Any]] = None
    """Extra reproducibility facts of the training (e.g. the precision it actually ran in),
    merged into the archive's ``reproducibility.json``."""

    @property
    def autoencoder(self) -> Any:
        return self.models.get("autoencoder")

    @property
    def diffraction_to_obj(self) -> Any:
        return self.models.get("diffraction_to_obj")


_lock = threading.Lock()
_current: Optional[CurrentModel] = None


def set_current_model(model: CurrentModel) -> None:
    """Make ``model`` the process's current model (replaces the previous one)."""
    global _current
    if not isinstance(model, CurrentModel):
        raise TypeError(f"expected a CurrentModel; got {type(model).__name__}")
    with _lock:
        _current = model
    logger.debug("current model: %s %s (N=%d, gridsize=%d)", model.backend, model.model_config.model_type,
                 model.model_config.N, model.model_config.gridsize)


def current_model() -> Optional[CurrentModel]:
    """The current model, or None when nothing was trained or loaded in this process."""
    return _current


def require_current_model(message: str = NO_MODEL_MESSAGE) -> CurrentModel:
    """The current model; ``RuntimeError(message)`` when there is none."""
    model = _current
    if model is None:
        raise RuntimeError(message)
    return model


def clear_current_model() -> None:
    """Forget the current model (tests, or a caller that wants to release memory)."""
    global _current
    with _lock:
        _current = None


def derived_models_for(models: dict[str, Any], codec: Any) -> dict[str, str]:
    """``{'diffraction_to_obj': 'autoencoder'}`` when the inference model is the autoencoder's
    own view (weights shared, as after training) and the codec can rebuild it — each weight
    is then stored once (issue #12); otherwise ``{}`` and both get a payload (e.g. two
    models loaded from a format-3.0 archive, which are separate objects)."""
    from ptychopinn_plugin.archive.codec import can_derive

    if (can_derive(codec) and {"autoencoder", "diffraction_to_obj"} <= set(models)
            and codec.derivable(models["autoencoder"], models["diffraction_to_obj"])):
        return {"diffraction_to_obj": "autoencoder"}
    return {}


def save_model(out_prefix: Any, model: Optional[CurrentModel] = None) -> Path:
    """Archive ``model`` (default: the current model) with the §7.4 path rule.

    ``out_prefix`` ending in ``.zip`` → exactly that file; anything else is a directory
    (created) receiving ``wts.h5.zip``.  Returns the archive path.
    """
    from ptychopinn_plugin.archive import save_to_prefix
    from ptychopinn_plugin.workflows.backend_ops import resolve_backend

    model = require_current_model() if model is None else model
    ops = resolve_backend(model.backend)
    training_config = model.training_config
    if training_config is not None and (training_config.model != model.model_config
                                        or training_config.backend != model.backend):
        # A config mutated after training must not contradict the archived model.
        import dataclasses

        training_config = dataclasses.replace(training_config, model=model.model_config, backend=model.backend)
    codec = ops.codec()
    path = save_to_prefix(
        out_prefix,
        models=model.models,
        codec=codec,
        derived_models=derived_models_for(model.models, codec),
        model_config=model.model_config,
        training_config=training_config,
        intensity_scale=model.intensity_scale,
        intensity_scale_trained=model.intensity_scale_trained,
        probe=model.probe,
        history=model.history,
        completed=model.completed,
        reproducibility=model.reproducibility,
    )
    logger.info("saved the current %s model to %s", model.backend, path)
    return path
