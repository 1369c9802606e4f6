"""Training workflows: ``train_cdi_model`` and ``run_cdi_example`` (api spec §6.1, §6.2).

Every run starts from the configuration alone: the intensity scale
``s = sqrt(nphotons)/(N/2)`` is computed fresh (physics §7; the original reused a stale
``params.cfg['intensity_scale']``), the probe is normalised with ``probe_scale``
(physics §6.1), the data are grouped with the config's ``n_groups``, ``neighbor_count``,
``seed`` and oversampling fields, and a fresh model is built by the selected backend.
The trained pair becomes the process's current model (``session``) so that
``ptycho.model_manager.save`` can archive it.  :func:`register_trained_model`,
:func:`training_results` and :func:`stitch_results` are the steps shared with the
memory-mapped PyTorch workflow (:mod:`.mmap_training`), so both paths archive, evaluate
and stitch identically.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.config import (
    PyTorchExecutionConfig,
    TrainingConfig,
    legacy_params,
    update_legacy_dict,
    validate_model_config,
)
from ptychopinn_plugin.config.training_config import is_power_of_two, validate_training_fields
from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.npz_io import metadata_nphotons
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.physics.probe import normalise_probe
from ptychopinn_plugin.util.progress import NonFiniteTrainingError, TrainingMonitor
from ptychopinn_plugin.workflows.backend_ops import BackendOps, resolve_backend
from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container
from ptychopinn_plugin.workflows.session import CurrentModel, require_current_model, set_current_model
from ptychopinn_plugin.workflows.stitching import stitch_container

logger = logging.getLogger(__name__)

__all__ = [
    "RESULT_KEYS",
    "check_workflow_config",
    "evaluation_batch_size",
    "register_trained_model",
    "record_runtime_params",
    "training_results",
    "stitch_results",
    "train_cdi_model",
    "run_cdi_example",
]

RESULT_KEYS = (
    "history",
    "history_epochs",
    "model_instance",
    "train_container",
    "test_container",
    "intensity_scale",
    "intensity_scale_trained",
    "reconstructed_obj",
    "pred_amp",
    "reconstructed_obj_cdi",
    "stitched_obj",
    "obj_tensor_full",
    "global_offsets",
    "recon_amp",
    "recon_phase",
    "backend",
)
"""The keys of the results dictionary (api spec §6.1 table); always all present, None
where a value does not apply (no test data, no stitching)."""


def check_workflow_config(config: TrainingConfig) -> None:
    """Workflow validation of api spec §6.1 step 1.

    ``N`` must be known, every field is re-checked (fields may have been assigned after
    construction, as Ptychodus does with ``model.N``), and a non-power-of-two batch size
    only warns here (the raising rule belongs to the CLI's ``validate_training_config``).
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"expected a TrainingConfig; got {type(config).__name__}")
    validate_model_config(config.model, require_n=True)
    validate_training_fields(config)
    if not is_power_of_two(config.batch_size):
        logger.warning("TrainingConfig.batch_size = %d is not a power of two", config.batch_size)
    if config.model.model_type == "supervised" and config.model.gridsize != 1:
        raise ValueError(
            f"supervised training requires gridsize == 1 (got gridsize = {config.model.gridsize})"
        )
    if config.pretrain_steps > 0:
        if config.backend != "pytorch":
            raise ValueError(f"TrainingConfig.pretrain_steps = {config.pretrain_steps} needs backend 'pytorch' (the "
                             f"backend is {config.backend!r}): synthetic pretraining is implemented for PyTorch only")
        if config.model.model_type != "pinn":
            raise ValueError("TrainingConfig.pretrain_steps > 0 applies to the PINN (model_type 'pinn') only")
        if config.model.gridsize > 1 and not config.model.object_big:
            raise ValueError("TrainingConfig.pretrain_steps > 0 at gridsize > 1 needs object_big = True")


def _log_nphotons_override(data: Any, config: TrainingConfig) -> None:
    """Data §1.6: a dataset may state its photon count; we keep the configured value but say so."""
    metadata = getattr(data, "metadata", None)
    value = metadata_nphotons(metadata) if metadata else None
    if value is not None and not math.isclose(value, config.nphotons, rel_tol=1e-6):
        logger.info(
            "the training data's metadata give nphotons = %.6g; training uses the configured nphotons = %.6g",
            value, config.nphotons,
        )


def evaluation_batch_size(config: TrainingConfig, execution_config: Optional[PyTorchExecutionConfig]) -> int:
    """Batch size of the post-training test prediction: ``inference_batch_size`` when set,
    else the training ``batch_size`` (api spec §2.6: "None = training batch_size")."""
    if execution_config is not None and execution_config.inference_batch_size:
        return int(execution_config.inference_batch_size)
    return int(config.batch_size)


def _evaluate(ops: BackendOps, trained: Any, container: PtychoDataContainer, scale: float, batch_size: int
              ) -> tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]:
    """``(reconstructed_obj, pred_amp, reconstructed_obj_cdi)`` on the test container."""
    if ops.predict_outputs is not None:
        return ops.predict_outputs(trained.autoencoder, container.X, container.coords_nominal, scale, batch_size)
    logger.info("%s backend offers no autoencoder prediction helper; only reconstructed_obj is computed", ops.name)
    obj = ops.predict(trained.diffraction_to_obj, container.X, container.coords_nominal, scale, batch_size)
    return obj, None, None


def train_cdi_model(
    train_data: Any,
    test_data: Any,
    config: TrainingConfig,
    *,
    monitor: Optional[TrainingMonitor] = None,
    execution_config: Optional[PyTorchExecutionConfig] = None,
) -> dict[str, Any]:
    """Group, normalise, train with ``config.backend`` and evaluate on ``test_data`` (§6.2).

    ``train_data``/``test_data``: ``RawData`` or containers (``test_data`` may be None).
    Training data are grouped with ``config.n_groups``; test data with one group per
    scan position (evaluation and stitching must cover the whole test scan).
    ``monitor`` receives per-epoch losses and may stop training (util.progress);
    ``execution_config`` is used by the PyTorch backend only.
    Returns the results dictionary (:data:`RESULT_KEYS`; stitching keys None).
    """
    check_workflow_config(config)
    ops = resolve_backend(config.backend)
    _log_nphotons_override(train_data, config)
    train_container = create_ptycho_data_container(train_data, config)
    test_container = (None if test_data is None
                      else create_ptycho_data_container(test_data, config, n_groups=None))

    scale = closed_form_scale(config.nphotons, config.model.N)  # fresh for every run
    probe = normalise_probe(train_container.probe, config.model.probe_scale)
    logger.info("training on %d groups (%s backend), s = %.6g", len(train_container), ops.name, scale)
    trained = ops.train(train_container, config, monitor=monitor, probe=probe, execution_config=execution_config)
    register_trained_model(ops, trained, config, probe)
    return training_results(ops, trained, config, train_container, test_container, execution_config)


def register_trained_model(ops: BackendOps, trained: Any, config: TrainingConfig,
                           fallback_probe: Optional[np.ndarray] = None) -> CurrentModel:
    """Make a backend's ``TrainResult`` the process's current model (what ``save_model`` archives).

    One place for every training path (in-memory and memory-mapped), so the archived
    probe, scales, history and ``completed`` flag mean the same whichever path trained.
    The archived probe is the one inside the trained model (it moved if
    ``probe_trainable``); the supervised model has none, so ``trained.probe`` or
    ``fallback_probe`` is used.  A backend whose training scale ``s`` differs from the
    closed form for ``config`` is refused (``RuntimeError``) before anything is registered.
    """
    scale = closed_form_scale(config.nphotons, config.model.N)
    if not math.isclose(trained.intensity_scale, scale, rel_tol=1e-12):
        raise RuntimeError(
            f"the {ops.name} backend trained with intensity scale {trained.intensity_scale} but the workflow "
            f"computed {scale} from nphotons = {config.nphotons}, N = {config.model.N}"
        )
    _require_finite_model(ops, trained)
    model_probe = ops.model_probe(trained.autoencoder)
    if model_probe is None:
        model_probe = trained.probe if trained.probe is not None else fallback_probe
    if model_probe is None:
        raise RuntimeError(f"the {ops.name} backend returned a model without a probe and no fallback probe was given")
    model = CurrentModel(
        backend=ops.name,
        models={"autoencoder": trained.autoencoder, "diffraction_to_obj": trained.diffraction_to_obj},
        model_config=config.model,
        training_config=config,
        intensity_scale=float(trained.intensity_scale),
        intensity_scale_trained=float(trained.intensity_scale_trained),
        probe=np.asarray(model_probe, dtype=np.complex64),
        history=dict(trained.history),
        completed=bool(trained.completed),
        reproducibility={"precision": str(getattr(trained, "precision", "32-true"))},
    )
    set_current_model(model)
    return model


def _require_finite_model(ops: BackendOps, trained: Any) -> None:
    """``NonFiniteTrainingError`` when the trained scale or any weight is NaN/Inf.

    The backends already stop at the first non-finite batch loss; this also catches the
    last optimiser step, whose update no later loss sees.  Nothing is registered, so no
    archive can be written (let alone marked complete) from such a model.
    """
    scales = {"intensity_scale": trained.intensity_scale, "intensity_scale_trained": trained.intensity_scale_trained}
    bad_scales = [f"{name} = {value}" for name, value in scales.items() if not math.isfinite(float(value))]
    bad_weights = ops.non_finite_weights(trained.autoencoder)
    if bad_scales or bad_weights:
        shown = ", ".join(bad_weights[:5]) + (f" and {len(bad_weights) - 5} more" if len(bad_weights) > 5 else "")
        raise NonFiniteTrainingError(
            "training produced a non-finite model; it is not saved: "
            + "; ".join(bad_scales + ([f"NaN/Inf in the weights {shown}"] if bad_weights else []))
            + ". Likely causes: an nphotons far from the data's real dose, extreme values in the data, "
            "or a learning rate too high"
        )


def training_results(ops: BackendOps, trained: Any, config: TrainingConfig, train_container: Any,
                     test_container: Optional[PtychoDataContainer],
                     execution_config: Optional[PyTorchExecutionConfig] = None) -> dict[str, Any]:
    """The results dictionary (:data:`RESULT_KEYS`) of a finished training, with the test
    prediction when ``test_container`` is given (stitching keys stay None)."""
    results: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
    results.update(
        history=dict(trained.history),
        history_epochs=list(trained.history_epochs),
        model_instance=trained.autoencoder,
        train_container=train_container,
        test_container=test_container,
        intensity_scale=float(trained.intensity_scale),
        intensity_scale_trained=float(trained.intensity_scale_trained),
        backend=ops.name,
    )
    if test_container is not None:
        obj, amp, intensity = _evaluate(ops, trained, test_container, float(trained.intensity_scale),
                                        evaluation_batch_size(config, execution_config))
        results.update(reconstructed_obj=obj, pred_amp=amp, reconstructed_obj_cdi=intensity)
    return results


def run_cdi_example(
    train_data: Any,
    test_data: Any,
    config: TrainingConfig,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    M: int = 20,
    do_stitching: bool = False,
    *,
    monitor: Optional[TrainingMonitor] = None,
    execution_config: Optional[PyTorchExecutionConfig] = None,
) -> tuple[Optional[np.ndarray], Optional[np.ndarray], dict[str, Any]]:
    """Train, optionally stitch the test reconstruction; ``(amp|None, phase|None, results)`` (§6.1).

    Writes the configuration into ``params.cfg`` first and, after training, the runtime
    keys ``intensity_scale`` (``s``) and ``probe`` (normalised, ``(N, N, 1)``) — the
    compatibility contract of ``ptycho.params``; nothing here reads them back.
    """
    check_workflow_config(config)
    update_legacy_dict(legacy_params.cfg, config)
    results = train_cdi_model(train_data, test_data, config, monitor=monitor, execution_config=execution_config)
    record_runtime_params(results)

    amp = phase = None
    if do_stitching:
        amp, phase = stitch_results(results, M=M, flip_x=flip_x, flip_y=flip_y, transpose=transpose)
    return amp, phase, results


def record_runtime_params(results: dict[str, Any]) -> None:
    """Write the runtime keys ``intensity_scale`` (``s``) and ``probe`` (normalised,
    ``(N, N, 1)``) of the current model into ``params.cfg`` after a ``run_cdi_example``-style
    training (the ``ptycho.params`` compatibility contract)."""
    legacy_params.set("intensity_scale", float(results["intensity_scale"]))
    legacy_params.set("probe", require_current_model().probe[..., None])


def stitch_results(results: dict[str, Any], *, M: int = 20, flip_x: bool = False, flip_y: bool = False,
                   transpose: bool = False) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Stitch ``results['reconstructed_obj']`` over ``results['test_container']`` (api spec §6.1
    step 6); fills the stitching keys and returns ``(amp, phase)``, or ``(None, None)`` with a
    WARNING when there are no test data."""
    if results.get("test_container") is None:
        logger.warning("do_stitching=True but no test data were given; nothing to stitch")
        return None, None
    outcome = stitch_container(
        results["test_container"], patches=results["reconstructed_obj"], M=M, flip_x=flip_x,
        flip_y=flip_y, transpose=transpose, keep_patches=True,
    )
    amp, phase = outcome.amplitude, outcome.phase
    results.update(
        stitched_obj=outcome.image, obj_tensor_full=outcome.patches,
        global_offsets=outcome.global_offsets, recon_amp=amp, recon_phase=phase,
    )
    return amp, phase
