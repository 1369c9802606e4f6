"""Opening trained models and reconstructing with them (api spec §6.4, §3, §8 item 6).

Two entry points with deliberately different contracts:

* :func:`load_archive` (library code: CLIs, plugin, GUI) — typed result, no side
  effects; the backend is chosen by the archive's manifest, or checked against an
  expected backend (``ArchiveBackendMismatchError``).
* :func:`load_inference_bundle` (compatibility, Ptychodus) — returns the backend-neutral
  predictor and, as the original did (CONFIG-001), writes the archive's legacy
  parameters (``N``, ``gridsize``, ``intensity_scale`` …) and the probe into
  ``params.cfg``, and makes the model the process's current model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from ptychopinn_plugin.archive import (
    ARCHIVE_NAME,
    INFERENCE_MODEL,
    LoadedArchive,
    load_archive as _load_archive_with_codec,
    read_manifest_only,
)
from ptychopinn_plugin.archive.layout import LEGACY_MANIFEST_NAME, MANIFEST_NAME
from ptychopinn_plugin.archive.reader import legacy_archive_error
from ptychopinn_plugin.config import InferenceConfig, legacy_params
from ptychopinn_plugin.workflows.backend_ops import DEFAULT_PREDICT_BATCH_SIZE, check_backend_name, resolve_backend
from ptychopinn_plugin.workflows.predictor import InferencePredictor
from ptychopinn_plugin.workflows.session import CurrentModel, require_current_model, set_current_model

logger = logging.getLogger(__name__)

__all__ = [
    "load_archive",
    "predictor_from_archive",
    "load_predictor",
    "resolve_bundle_dir",
    "load_inference_bundle",
    "load_bundle_for_backend",
    "current_predictor",
    "predictor_from_model",
    "reconstruct",
]

PathLike = str | os.PathLike[str]


def load_archive(path: PathLike, *, backend: Optional[str] = None,
                 model_names: Optional[Sequence[str]] = None) -> LoadedArchive:
    """Validate and load an archive (any accepted form, api spec §7.5); no side effects.

    ``backend``: the active backend; an archive saved by the other one raises
    ``ArchiveBackendMismatchError``.  None follows the archive's manifest.  The archive's
    framework is imported only now (missing → the §8 ``RuntimeError``).
    ``model_names=None`` loads every archived model.
    """
    if backend is not None:
        check_backend_name(backend)

    def resolver(archived_backend: str) -> Any:
        return resolve_backend(archived_backend).codec()

    return _load_archive_with_codec(path, resolver, expected_backend=backend, model_names=model_names)


def predictor_from_archive(loaded: LoadedArchive, batch_size: int = DEFAULT_PREDICT_BATCH_SIZE,
                           device: Optional[str] = None) -> InferencePredictor:
    """The backend-neutral predictor of ``loaded``'s ``diffraction_to_obj`` (KeyError if absent)."""
    if INFERENCE_MODEL not in loaded.models:
        raise KeyError(
            f"model {INFERENCE_MODEL!r} is not loaded from this archive; available models: {sorted(loaded.models)}"
        )
    return InferencePredictor(loaded.models[INFERENCE_MODEL], resolve_backend(loaded.backend), loaded.model_config,
                              loaded.intensity_scale, batch_size, device)


def load_predictor(path: PathLike, *, backend: Optional[str] = None, batch_size: int = DEFAULT_PREDICT_BATCH_SIZE,
                   device: Optional[str] = None) -> tuple[InferencePredictor, LoadedArchive]:
    """Load only ``diffraction_to_obj`` of an archive; ``(predictor, loaded archive)``; no side effects."""
    loaded = load_archive(path, backend=backend, model_names=[INFERENCE_MODEL])
    return predictor_from_archive(loaded, batch_size, device), loaded


def resolve_bundle_dir(model_dir: PathLike) -> Path:
    """The archive inside a bundle directory (§6.4): ``model_dir/wts.h5.zip`` or the
    directory itself when it is an unpacked archive (holds ``manifest.json``)."""
    directory = Path(model_dir)
    if not directory.exists() or not directory.is_dir():
        raise ValueError(
            f"model directory {directory} does not exist or is not a directory; load_inference_bundle expects "
            f"the directory that holds {ARCHIVE_NAME}"
        )
    archive = directory / ARCHIVE_NAME
    if archive.is_file():
        return archive
    if (directory / MANIFEST_NAME).is_file():
        return directory
    if (directory / LEGACY_MANIFEST_NAME).exists():
        raise legacy_archive_error(str(directory))
    raise FileNotFoundError(
        f"model archive not found: expected {archive}. Training writes '{ARCHIVE_NAME}' into its output "
        "directory (ptychopinn-train, run_cdi_example + model_manager.save)"
    )


def register_loaded(loaded: LoadedArchive, source: Path) -> None:
    set_current_model(CurrentModel(
        backend=loaded.backend, models=dict(loaded.models), model_config=loaded.model_config,
        training_config=loaded.training_config, intensity_scale=loaded.intensity_scale,
        intensity_scale_trained=loaded.intensity_scale_trained, probe=loaded.probe, history=loaded.history,
        completed=bool(loaded.manifest.get("completed", True)), source=source,
        reproducibility=_training_facts(loaded),
    ))


def _training_facts(loaded: LoadedArchive) -> Optional[dict[str, Any]]:
    """Facts of the original training worth keeping when a loaded model is saved again."""
    record = (loaded.info.reproducibility if loaded.info is not None else None) or {}
    return {"precision": record["precision"]} if "precision" in record else None


def apply_legacy_side_effects(loaded: LoadedArchive) -> dict[str, Any]:
    """Write the archive's legacy parameters and probe into ``params.cfg``; return a copy of it."""
    for key, value in loaded.legacy_params.items():
        if value is not None:
            legacy_params.set(key, value)
    legacy_params.set("intensity_scale", float(loaded.intensity_scale))
    legacy_params.set("probe", loaded.probe[..., None])
    return dict(legacy_params.cfg)


def load_inference_bundle(model_dir: PathLike) -> tuple[InferencePredictor, dict[str, Any]]:
    """Compatibility loader (api spec §6.4): ``(predictor, copy of params.cfg)``.

    ``model_dir`` must be an existing directory (``ValueError``) holding ``wts.h5.zip``
    or being an unpacked archive (``FileNotFoundError`` otherwise).  The backend follows
    the archive's manifest (a torch archive without torch → §8 ``RuntimeError``);
    ``diffraction_to_obj`` missing → ``KeyError`` listing the available models.
    Side effects: ``params.cfg`` receives the archive's legacy parameters (incl. ``N``,
    ``gridsize``, ``intensity_scale`` = ``s``, ``probe``), and the loaded pair becomes the
    process's current model.
    """
    archive = resolve_bundle_dir(model_dir)
    info = read_manifest_only(archive)
    if INFERENCE_MODEL not in info.models:
        raise KeyError(
            f"model {INFERENCE_MODEL!r} is not in archive {archive}; available models: {sorted(info.models)}"
        )
    loaded = load_archive(archive)
    config_dict = apply_legacy_side_effects(loaded)
    register_loaded(loaded, archive)
    logger.info("loaded %s model from %s (N=%d, gridsize=%d, s=%.6g)", loaded.backend, archive,
                loaded.model_config.N, loaded.model_config.gridsize, loaded.intensity_scale)
    return predictor_from_archive(loaded), config_dict


def load_bundle_for_backend(bundle_dir: PathLike, backend: str, model_name: str = INFERENCE_MODEL
                            ) -> tuple[Any, dict[str, Any]]:
    """``load_inference_bundle`` with the archive's backend required to equal ``backend`` (§8 item 6).

    Returns the predictor for ``diffraction_to_obj``, or the raw backend model for any
    other ``model_name``, plus a copy of ``params.cfg`` (same side effects).
    """
    directory = Path(bundle_dir)
    archive = resolve_bundle_dir(directory) if directory.is_dir() else directory
    info = read_manifest_only(archive, expected_backend=backend)
    if model_name not in info.models:
        raise KeyError(f"model {model_name!r} is not in archive {archive}; available models: {sorted(info.models)}")
    loaded = load_archive(archive, backend=backend)
    config_dict = apply_legacy_side_effects(loaded)
    register_loaded(loaded, Path(archive))
    if model_name == INFERENCE_MODEL:
        return predictor_from_archive(loaded), config_dict
    return loaded.models[model_name], config_dict


def current_predictor(batch_size: int = DEFAULT_PREDICT_BATCH_SIZE) -> InferencePredictor:
    """Predictor of the process's current model (``RuntimeError`` with guidance when none)."""
    model = require_current_model(
        "no PtychoPINN model is available: train one (run_cdi_example) or load one (load_inference_bundle) first"
    )
    return predictor_from_model(model, batch_size)


def predictor_from_model(model: CurrentModel, batch_size: int = DEFAULT_PREDICT_BATCH_SIZE) -> InferencePredictor:
    return InferencePredictor(model.diffraction_to_obj, resolve_backend(model.backend), model.model_config,
                              model.intensity_scale, batch_size)


def reconstruct(predictor: InferencePredictor, data: Any, config: InferenceConfig, *, keep_patches: bool = False,
                flip_x: bool = False, flip_y: bool = False, transpose: bool = False) -> Any:
    """Group ``data`` with ``config`` (None ``n_groups`` = one group per position), predict and
    stitch with ``config.stitch_crop_size``; returns ``(container, StitchOutcome)``.

    The model's ``N`` and ``gridsize`` govern grouping (the config's model fields are
    overridden by the predictor's, with a WARNING when they differ).
    """
    import dataclasses

    from ptychopinn_plugin.config import check_stitch_crop_size, neighbour_pool_for
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container
    from ptychopinn_plugin.workflows.stitching import stitch_container

    if (config.model.N, config.model.gridsize) != (predictor.N, predictor.gridsize):
        if config.model.N:
            logger.warning(
                "configuration says N=%d, gridsize=%d but the model was trained with N=%d, gridsize=%d; using the model's",
                config.model.N, config.model.gridsize, predictor.N, predictor.gridsize,
            )
        config = dataclasses.replace(config, model=predictor.model_config)
    check_stitch_crop_size(config.stitch_crop_size, predictor.N)
    channels = predictor.gridsize ** 2
    if predictor.gridsize > 1 and config.neighbor_count < channels:
        pool = neighbour_pool_for(predictor.gridsize)
        logger.warning("neighbor_count = %d is smaller than the model's gridsize² = %d; grouping with %d nearest "
                       "neighbours instead", config.neighbor_count, channels, pool)
        config = dataclasses.replace(config, neighbor_count=pool)
    container = create_ptycho_data_container(data, config)
    outcome = stitch_container(container, predictor=predictor, M=config.stitch_crop_size, flip_x=flip_x,
                               flip_y=flip_y, transpose=transpose, keep_patches=keep_patches)
    require_finite_reconstruction(outcome.image, config.model_path)
    return container, outcome


class NonFiniteReconstructionError(ValueError):
    """The network produced NaN/Inf; such a reconstruction is never written (issue #15 item 1)."""


def require_finite_reconstruction(image: Any, model_path: Any = None) -> None:
    """``NonFiniteReconstructionError`` when the stitched object holds NaN/Inf.

    Uncovered canvas pixels are 0, so any non-finite pixel comes from the network: a model
    trained to a non-finite loss (archives written before that was refused), or data far
    outside what it was trained on.
    """
    import numpy as np

    values = np.asarray(image)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        source = f"the model {model_path}" if model_path else "the model"
        raise NonFiniteReconstructionError(
            f"{source} produced a non-finite reconstruction ({bad} of {values.size} pixels are NaN/Inf); "
            "nothing is written. The model was probably trained to a non-finite loss (see its training "
            "history) — retrain it with an nphotons matching the data"
        )
