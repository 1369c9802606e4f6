"""Backend dispatch (api spec §8): the same workflow calls for TensorFlow and PyTorch.

Rules, in order: (1) ``update_legacy_dict(params.cfg, config)``; (2) an unknown
``config.backend`` → ``ValueError`` naming it and both literals; (3/4) only the selected
framework is imported — a missing one is a ``RuntimeError`` with installation guidance,
never a silent fallback; the PyTorch execution config is used by torch only (ignored,
with a debug log, for TensorFlow; ``None`` → defaults of api §2.6); (5) results carry
``results['backend']``; (6) loading requires the archive's backend to equal
``config.backend`` (``ArchiveBackendMismatchError``); (7) execution configs never touch
``params.cfg``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from ptychopinn_plugin.config import PyTorchExecutionConfig, update_legacy_dict
from ptychopinn_plugin.config import legacy_params
from ptychopinn_plugin.util.progress import TrainingMonitor
from ptychopinn_plugin.workflows.backend_ops import check_backend_name, resolve_backend

logger = logging.getLogger(__name__)

__all__ = [
    "run_cdi_example_with_backend",
    "train_cdi_model_with_backend",
    "load_inference_bundle_with_backend",
]


def _dispatch(config: Any, torch_execution_config: Optional[PyTorchExecutionConfig]
              ) -> Optional[PyTorchExecutionConfig]:
    update_legacy_dict(legacy_params.cfg, config)
    backend = check_backend_name(getattr(config, "backend", None), f"{type(config).__name__}.backend")
    resolve_backend(backend)  # imports the selected framework now: errors surface before any work
    if backend == "pytorch":
        return torch_execution_config if torch_execution_config is not None else PyTorchExecutionConfig()
    if torch_execution_config is not None:
        logger.debug("TensorFlow backend selected: the PyTorch execution config is ignored")
    return None


def run_cdi_example_with_backend(
    train_data: Any,
    test_data: Any,
    config: Any,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    M: int = 20,
    do_stitching: bool = False,
    torch_execution_config: Optional[PyTorchExecutionConfig] = None,
    *,
    monitor: Optional[TrainingMonitor] = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """``run_cdi_example`` on ``config.backend``; ``results['backend']`` is set."""
    from ptychopinn_plugin.workflows.training import run_cdi_example

    execution = _dispatch(config, torch_execution_config)
    amp, phase, results = run_cdi_example(
        train_data, test_data, config, flip_x, flip_y, transpose, M, do_stitching,
        monitor=monitor, execution_config=execution,
    )
    results["backend"] = config.backend
    return amp, phase, results


def train_cdi_model_with_backend(
    train_data: Any,
    test_data: Any,
    config: Any,
    torch_execution_config: Optional[PyTorchExecutionConfig] = None,
    *,
    monitor: Optional[TrainingMonitor] = None,
) -> dict[str, Any]:
    """``train_cdi_model`` on ``config.backend``; ``results['backend']`` is set."""
    from ptychopinn_plugin.workflows.training import train_cdi_model

    execution = _dispatch(config, torch_execution_config)
    results = train_cdi_model(train_data, test_data, config, monitor=monitor, execution_config=execution)
    results["backend"] = config.backend
    return results


def load_inference_bundle_with_backend(
    bundle_dir: str | os.PathLike[str],
    config: Any,
    model_name: str = "diffraction_to_obj",
) -> tuple[Any, dict[str, Any]]:
    """Load ``bundle_dir`` (a bundle directory or an archive path) requiring ``config.backend``.

    Returns ``(model, params dict)``: the backend-neutral predictor for
    ``'diffraction_to_obj'``, the raw backend model for any other ``model_name``; the
    compatibility side effects of ``load_inference_bundle`` apply.
    """
    from ptychopinn_plugin.workflows.inference import load_bundle_for_backend

    _dispatch(config, None)
    return load_bundle_for_backend(bundle_dir, config.backend, model_name)
