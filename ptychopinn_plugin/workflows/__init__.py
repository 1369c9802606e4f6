"""Workflow layer (api spec §3, §6, §8): train, save, load, reconstruct — for either backend.

Framework-free at import: names resolve lazily (PEP 562) and a backend is imported only
when a function that needs it runs.  Modules, one job each:

* :mod:`.backend_ops` — :class:`BackendOps` per backend, :func:`resolve_backend`;
* :mod:`.session` — the process's current model (for ``model_manager.save``);
* :mod:`.predictor` — :class:`InferencePredictor`, the backend-neutral model;
* :mod:`.data_prep` — ``load_data``, ``create_ptycho_data_container``;
* :mod:`.training` — ``train_cdi_model``, ``run_cdi_example``;
* :mod:`.mmap_training` — ``run_cdi_example_mmap`` (PyTorch, memory-mapped training data);
* :mod:`.stitching` — ``reassemble_cdi_image``, streamed :func:`stitch_container`;
* :mod:`.inference` — ``load_archive`` (typed, no side effects),
  ``load_inference_bundle`` (compatibility), :func:`reconstruct`;
* :mod:`.outputs` / :mod:`.plots` — ``save_outputs``, PNGs, ``reconstruction.npz``;
* :mod:`.arguments` — dataclass-generated CLI flags, ``setup_configuration``;
* :mod:`.backend_selector` — the §8 dispatchers;
* :mod:`.components` — the original names in one module.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_exports

_EXPORTS = {
    "BackendOps": "backend_ops",
    "resolve_backend": "backend_ops",
    "DEFAULT_PREDICT_BATCH_SIZE": "backend_ops",
    "CurrentModel": "session",
    "current_model": "session",
    "set_current_model": "session",
    "clear_current_model": "session",
    "require_current_model": "session",
    "save_model": "session",
    "InferencePredictor": "predictor",
    "load_data": "data_prep",
    "create_ptycho_data_container": "data_prep",
    "train_cdi_model": "training",
    "run_cdi_example": "training",
    "RESULT_KEYS": "training",
    "run_cdi_example_mmap": "mmap_training",
    "STREAM_THRESHOLD": "mmap_training",
    "reassemble_cdi_image": "stitching",
    "stitch_container": "stitching",
    "StitchOutcome": "stitching",
    "load_archive": "inference",
    "load_predictor": "inference",
    "predictor_from_archive": "inference",
    "load_inference_bundle": "inference",
    "current_predictor": "inference",
    "reconstruct": "inference",
    "save_outputs": "outputs",
    "save_reconstruction": "outputs",
    "parse_arguments": "arguments",
    "setup_configuration": "arguments",
    "update_config_from_dict": "arguments",
    "run_cdi_example_with_backend": "backend_selector",
    "train_cdi_model_with_backend": "backend_selector",
    "load_inference_bundle_with_backend": "backend_selector",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
