"""Model names of the ``ptycho`` shim: ``ptycho.model`` and ``ptycho.model_manager`` (api §4, §7.4).

* ``create_model_with_gridsize`` / ``create_compiled_model`` build fresh TensorFlow
  models and never write ``params.cfg`` (omitted arguments are read from it);
* ``current_model_attribute`` resolves ``ptycho.model.autoencoder`` /
  ``ptycho.model.diffraction_to_obj`` to the process's current model;
* ``save`` / ``ModelManager`` archive and load models with the JSON archive format.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ptychopinn_plugin.config import KEY_MAPPINGS, ModelConfig, TrainingConfig, legacy_params
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.physics.probe import default_probe, normalise_probe
from ptychopinn_plugin.workflows.session import current_model, derived_models_for, save_model

logger = logging.getLogger(__name__)

__all__ = [
    "MODEL_ATTRIBUTES",
    "params",
    "model_config_from_legacy",
    "create_model_with_gridsize",
    "create_compiled_model",
    "current_model_attribute",
    "save",
    "ModelManager",
]

MODEL_ATTRIBUTES = ("autoencoder", "diffraction_to_obj")
_MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
_TRAINING_OPTIONS = ("probe", "intensity_scale", "probe_trainable", "intensity_scale_trainable", "seed")


def params() -> dict[str, Any]:
    """``ptycho.model.params()`` — same as ``ptycho.params.params()``."""
    return legacy_params.params()


def model_config_from_legacy(**overrides: Any) -> ModelConfig:
    """A ``ModelConfig`` from ``params.cfg`` (legacy key names), with field overrides."""
    reverse = {legacy: name for name, legacy in KEY_MAPPINGS.items()}
    values: dict[str, Any] = {}
    for key, value in legacy_params.cfg.items():
        name = reverse.get(key, key)
        if name in _MODEL_FIELDS and value is not None:
            values[name] = value
    values.update(overrides)
    return ModelConfig(**values)


def _legacy_probe(n: int, probe_scale: float) -> np.ndarray:
    stored = legacy_params.cfg.get("probe")
    if stored is not None:
        probe = np.asarray(stored)
        probe = probe[..., 0] if probe.ndim == 3 else probe
        if probe.shape == (n, n):
            return probe.astype(np.complex64)
        logger.warning("params.cfg['probe'] has shape %s, not (%d, %d); using the default probe", probe.shape, n, n)
    else:
        logger.warning("no probe in params.cfg (set_probe_guess was not called); using the default probe")
    return normalise_probe(default_probe(n), probe_scale)


def create_model_with_gridsize(gridsize: int, N: int, **overrides: Any) -> tuple[Any, Any]:
    """Fresh TensorFlow ``(autoencoder, diffraction_to_obj)`` for ``gridsize`` and ``N``.

    ``overrides``: ModelConfig fields, plus ``probe`` (normalised, default
    ``params.cfg['probe']`` or the normalised default probe), ``intensity_scale``
    (default ``sqrt(nphotons)/(N/2)`` with ``params.cfg['nphotons']``),
    ``probe_trainable``, ``intensity_scale_trainable``, ``seed``.  ``params.cfg`` is read,
    never written.
    """
    from ptychopinn_plugin.workflows.backend_ops import import_tf_backend

    options = {key: overrides.pop(key) for key in _TRAINING_OPTIONS if key in overrides}
    unknown = sorted(set(overrides) - _MODEL_FIELDS)
    if unknown:
        raise ValueError(f"unknown model option(s): {', '.join(unknown)}; allowed: ModelConfig fields and "
                         f"{', '.join(_TRAINING_OPTIONS)}")
    cfg = model_config_from_legacy(**overrides, N=int(N), gridsize=int(gridsize))
    probe = options.get("probe")
    probe = _legacy_probe(cfg.N, cfg.probe_scale) if probe is None else np.asarray(probe)
    scale = options.get("intensity_scale")
    if scale is None:
        scale = closed_form_scale(float(legacy_params.cfg.get("nphotons", 1e9)), cfg.N)
    tfb = import_tf_backend()
    return tfb.build_models(
        cfg, intensity_scale=float(scale), probe=probe,
        probe_trainable=bool(options.get("probe_trainable", legacy_params.cfg.get("probe.trainable", False))),
        intensity_scale_trainable=bool(options.get(
            "intensity_scale_trainable", legacy_params.cfg.get("intensity_scale.trainable", True))),
        seed=options.get("seed"),
    )


def create_compiled_model(gridsize: Optional[int] = None, N: Optional[int] = None) -> tuple[Any, Any]:
    """``create_model_with_gridsize`` with ``params.cfg`` defaults, the autoencoder compiled
    with the loss weights of ``params.cfg`` (Adam, physics §12)."""
    from ptychopinn_plugin.workflows.backend_ops import import_tf_backend

    g = int(legacy_params.cfg["gridsize"]) if gridsize is None else int(gridsize)
    n = int(legacy_params.cfg["N"]) if N is None else int(N)
    autoencoder, diffraction_to_obj = create_model_with_gridsize(g, n)
    weights = {key: legacy_params.cfg[key] for key in
               ("mae_weight", "nll_weight", "realspace_weight", "realspace_mae_weight", "tv_weight")
               if legacy_params.cfg.get(key) is not None}
    training = TrainingConfig(model=model_config_from_legacy(N=n, gridsize=g), **weights)
    import_tf_backend().compile_models(autoencoder, training, has_ground_truth=False)
    return autoencoder, diffraction_to_obj


def current_model_attribute(name: str) -> Any:
    """``ptycho.model.autoencoder`` / ``.diffraction_to_obj``: the current model's member."""
    model = current_model()
    if model is None or model.models.get(name) is None:
        raise AttributeError(
            f"ptycho.model.{name}: no model exists in this process yet; train one "
            "(ptycho.workflows.components.run_cdi_example) or load one (load_inference_bundle), "
            "or build a fresh one with ptycho.model.create_model_with_gridsize(gridsize, N)"
        )
    return model.models[name]


def save(out_prefix: Any) -> Path:
    """``ptycho.model_manager.save`` (§7.4): ``….zip`` → that file; otherwise a directory
    (created) receiving ``wts.h5.zip``.  No model trained or loaded → ``RuntimeError``."""
    return save_model(out_prefix)


class ModelManager:
    """The original ``ModelManager`` class methods over the JSON archive (api spec §7)."""

    @staticmethod
    def save_multiple_models(models: Mapping[str, Any], base_path: str | os.PathLike[str],
                             intensity_scale: Optional[float] = None, *, model_config: Optional[ModelConfig] = None,
                             training_config: Optional[TrainingConfig] = None, probe: Any = None,
                             intensity_scale_trained: Optional[float] = None, history: Any = None,
                             backend: Optional[str] = None) -> Path:
        """Write ``base_path + '.zip'`` atomically.

        Omitted metadata come from the current model when ``models`` are its models,
        otherwise: ``backend`` 'tensorflow', ``model_config`` from ``params.cfg``,
        ``intensity_scale`` from ``params.cfg['intensity_scale']``, ``probe`` and
        ``intensity_scale_trained`` from the models themselves.
        """
        from ptychopinn_plugin.archive import save_multiple_models
        from ptychopinn_plugin.workflows.backend_ops import resolve_backend

        current = current_model()
        same = current is not None and all(current.models.get(k) is v for k, v in models.items())
        if same:
            backend = backend or current.backend
            model_config = model_config or current.model_config
            training_config = training_config or current.training_config
            probe = current.probe if probe is None else probe
            intensity_scale = current.intensity_scale if intensity_scale is None else intensity_scale
            if intensity_scale_trained is None:
                intensity_scale_trained = current.intensity_scale_trained
            history = current.history if history is None else history
        ops = resolve_backend(backend or "tensorflow")
        if model_config is None:
            model_config = model_config_from_legacy()
        if intensity_scale is None:
            try:
                intensity_scale = float(legacy_params.get("intensity_scale"))
            except KeyError:
                raise ValueError("save_multiple_models needs intensity_scale (none given and none in params.cfg)") \
                    from None
        if probe is None:
            for name in ("autoencoder", "diffraction_to_obj"):
                if name in models and (probe := ops.model_probe(models[name])) is not None:
                    break
        if probe is None:
            raise ValueError("save_multiple_models needs the normalised probe (none given and the models hold none)")
        if intensity_scale_trained is None:
            trained = ops.trained_intensity_scale(models["autoencoder"]) if "autoencoder" in models else None
            intensity_scale_trained = float(intensity_scale) if trained is None else float(trained)
        if training_config is not None and training_config.model != model_config:
            training_config = dataclasses.replace(training_config, model=model_config)
        codec = ops.codec()
        return save_multiple_models(
            models, base_path, float(intensity_scale), codec=codec, model_config=model_config,
            training_config=training_config, intensity_scale_trained=float(intensity_scale_trained),
            probe=probe, history=history, derived_models=derived_models_for(models, codec),
        )

    @staticmethod
    def load_multiple_models(base_path: str | os.PathLike[str],
                             model_names: Optional[Sequence[str]] = None) -> dict[str, Any]:
        """Load ``base_path + '.zip'`` (a path already ending in ``.zip`` is used as is).

        Returns ``{name: model}``.  Compatibility side effects as ``load_inference_bundle``:
        ``params.cfg`` receives the archive's parameters, and a complete pair becomes the
        current model.
        """
        from ptychopinn_plugin.workflows.inference import apply_legacy_side_effects, register_loaded, load_archive

        text = os.fspath(base_path)
        path = Path(text if text.endswith(".zip") else text + ".zip")
        loaded = load_archive(path, model_names=model_names)
        apply_legacy_side_effects(loaded)
        if all(name in loaded.models for name in MODEL_ATTRIBUTES):
            register_loaded(loaded, path)
        return dict(loaded.models)
