"""Adapter: expose the model pair a backend builds for training, for live previews.

The framework-neutral :class:`~ptychopinn_plugin.util.progress.TrainingMonitor` receives
losses only, never the model, so a preview after epoch k cannot be predicted through the
public API.  Both backends' ``training`` modules build their models with a module-level
``build_models`` call; inside the worker process only, we wrap that name for the
duration of one training run and keep a reference to what it returned.  If a backend
ever stops using that name, previews simply fall back to the end of training (no
error).  Proper fix (reported): let the monitor receive the models, e.g. an optional
``on_train_begin(models)`` hook.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from dataclasses import dataclass
from typing import Any, Iterator, Optional

logger = logging.getLogger(__name__)

__all__ = ["CapturedModels", "capture_built_models"]

_TRAINING_MODULES = {
    "tensorflow": "ptychopinn_plugin.backends.tf.training",
    "pytorch": "ptychopinn_plugin.backends.torch.training",
}


@dataclass
class CapturedModels:
    autoencoder: Any = None
    diffraction_to_obj: Optional[Any] = None

    @property
    def available(self) -> bool:
        return self.diffraction_to_obj is not None


@contextlib.contextmanager
def capture_built_models(backend: str) -> Iterator[CapturedModels]:
    box = CapturedModels()
    module_name = _TRAINING_MODULES.get(backend)
    module = importlib.import_module(module_name) if module_name else None
    original = getattr(module, "build_models", None) if module is not None else None
    if original is None:
        logger.info("live previews unavailable for the %s backend (no build_models hook)", backend)
        yield box
        return

    def build_and_keep(*args: Any, **kwargs: Any) -> Any:
        built = original(*args, **kwargs)
        try:
            box.autoencoder, box.diffraction_to_obj = built
        except (TypeError, ValueError):
            logger.info("unexpected build_models result; live previews disabled")
        return built

    module.build_models = build_and_keep
    try:
        yield box
    finally:
        module.build_models = original
