"""Training the PyTorch backend from a memory-mapped dataset (data spec §4, physics §12.2 "Large data").

Why a workflow of its own: the in-memory workflow (:mod:`.training`) loads the whole
training NPZ and groups it in RAM; for more groups than :data:`STREAM_THRESHOLD` the
spec asks for streamed batches, which for torch means the memory-mapped dataset of
:mod:`ptychopinn_plugin.backends.torch.mmap_dataset`.  Here the training file is turned
into (or matched against) such a dataset, trained with ``train_models_mmap``, and the
result is registered as the process's current model exactly like the in-memory path
(:func:`.training.register_trained_model`), so ``save_model`` archives it the same way.
Test data are small (one group per scan position) and are still loaded, evaluated and
stitched in memory with the in-memory helpers.

Framework-free at import: torch is imported (through :func:`.backend_ops.resolve_backend`
and :mod:`importlib`) only when :func:`run_cdi_example_mmap` runs, so the CLI can ask
:func:`mmap_unsupported_reasons` and :func:`requested_train_groups` cheaply.

Limits (the memory-mapped format stores no ground-truth patches and the builder has no
subsampling): supervised training, the real-space MAE (``realspace_weight > 0`` and
``realspace_mae_weight > 0``) and ``n_subsample`` are refused.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.config import PyTorchExecutionConfig, TrainingConfig, legacy_params, update_legacy_dict
from ptychopinn_plugin.util.progress import TrainingMonitor
from ptychopinn_plugin.workflows.backend_ops import resolve_backend
from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container
from ptychopinn_plugin.workflows.training import (
    check_workflow_config,
    record_runtime_params,
    register_trained_model,
    stitch_results,
    training_results,
)

logger = logging.getLogger(__name__)

__all__ = [
    "STREAM_THRESHOLD",
    "DEFAULT_MMAP_DIRNAME",
    "mmap_unsupported_reasons",
    "npz_position_count",
    "requested_train_groups",
    "run_cdi_example_mmap",
]

STREAM_THRESHOLD = 10_000
"""More training groups than this → streamed batches (physics §12.2 "Large data").  The
TF backend's constant of the same value lives in ``backends.tf.data_views``, which
imports TensorFlow; this framework-free copy is what the CLI reads."""

DEFAULT_MMAP_DIRNAME = "mmap_dataset"
"""Directory under ``output_dir`` used when the CLI switches to memory-mapped training by itself."""


def mmap_unsupported_reasons(config: TrainingConfig) -> dict[str, str]:
    """Why ``config`` cannot train from a memory-mapped dataset: ``{field: reason}`` (empty: it can).

    Mirrors what ``train_models_mmap`` and ``build_mmap_dataset`` refuse, so callers can
    say so before anything is built; the keys are the ``TrainingConfig``/``ModelConfig``
    field names (a CLI turns them into its flags).
    """
    reasons: dict[str, str] = {}
    if config.model.model_type == "supervised":
        reasons["model_type"] = (
            "model_type 'supervised' needs ground-truth labels, which memory-mapped datasets do not store"
        )
    if config.realspace_weight > 0 and config.realspace_mae_weight > 0:
        reasons["realspace_mae_weight"] = (
            f"the real-space MAE (realspace_mae_weight = {config.realspace_mae_weight}, realspace_weight = "
            f"{config.realspace_weight}) needs ground-truth object patches, which memory-mapped datasets do not store"
        )
    if config.n_subsample is not None:
        reasons["n_subsample"] = (
            f"n_subsample = {config.n_subsample} is not supported by the memory-mapped dataset builder "
            "(it groups the scan positions of the whole file)"
        )
    if config.pretrain_steps > 0:
        reasons["pretrain_steps"] = (
            f"synthetic pretraining (pretrain_steps = {config.pretrain_steps}) needs the training groups' geometry "
            "in memory"
        )
    return reasons


def npz_position_count(path: str | os.PathLike[str]) -> int:
    """Number of scan positions ``M`` of a dataset NPZ, from the ``xcoords`` member header only
    (nothing of the diffraction array is read)."""
    from ptychopinn_plugin.data.npz_io import NpzReader

    with NpzReader(path) as reader:
        if "xcoords" not in reader:
            raise KeyError(f"dataset {path} has no 'xcoords' key; keys present: {sorted(reader.keys)}")
        shape = reader.shape("xcoords")
        if shape is None:
            shape = reader.read("xcoords").shape
    return int(np.prod(shape, dtype=np.int64))


def requested_train_groups(config: TrainingConfig, positions: int) -> int:
    """Training groups that ``config`` will form from a file of ``positions`` scan positions.

    ``config.n_groups`` (512 when not given, api spec §2.2); with gridsize 1 grouping uses
    at most one group per position (data §2.2), so the count is capped there.  With
    gridsize > 1 more groups than positions need oversampling (else grouping raises), so
    ``n_groups`` is the count.
    """
    groups = int(config.n_groups) if config.n_groups is not None else int(positions)
    if config.model.gridsize == 1:
        groups = min(groups, int(positions))
    return groups


def run_cdi_example_mmap(
    mmap_dir: str | os.PathLike[str],
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
    diffraction_domain: str = "amplitude",
) -> tuple[Optional[np.ndarray], Optional[np.ndarray], dict[str, Any]]:
    """``run_cdi_example`` for the PyTorch backend, training from a memory-mapped dataset.

    Builds (or reuses, when its manifest matches exactly; a mismatch raises the builder's
    ``ValueError``) the memory-mapped dataset of ``config.train_data_file`` in ``mmap_dir``
    with the config's grouping fields, trains fresh models on it with
    ``train_models_mmap`` (``monitor`` receives the epochs and may stop training), makes
    the result the current model, and evaluates/stitches ``test_data`` (``RawData`` or a
    container; None = no evaluation) in memory like the in-memory workflow.
    ``results['train_container']`` is None: the training groups live on disk only.
    Returns ``(amp|None, phase|None, results)``.
    """
    check_workflow_config(config)
    if config.backend != "pytorch":
        raise ValueError(
            f"memory-mapped training needs TrainingConfig.backend = 'pytorch'; got {config.backend!r}"
        )
    reasons = mmap_unsupported_reasons(config)
    if reasons:
        raise ValueError("memory-mapped training is not possible: " + "; ".join(reasons.values()))
    if config.train_data_file is None:
        raise ValueError("memory-mapped training needs TrainingConfig.train_data_file (the NPZ to build it from)")
    update_legacy_dict(legacy_params.cfg, config)
    ops = resolve_backend("pytorch")  # imports the torch stack: a missing one fails clearly here
    mmap_module = importlib.import_module("ptychopinn_plugin.backends.torch.mmap_dataset")
    torch_training = importlib.import_module("ptychopinn_plugin.backends.torch.training")
    execution = execution_config if execution_config is not None else PyTorchExecutionConfig()

    dataset = mmap_module.build_mmap_dataset(
        [Path(config.train_data_file)], Path(mmap_dir),
        N=config.model.N, gridsize=config.model.gridsize, K=config.neighbor_count, n_groups=config.n_groups,
        seed=config.seed, sequential_sampling=config.sequential_sampling,
        enable_oversampling=config.enable_oversampling, neighbor_pool_size=config.neighbor_pool_size,
        nphotons=config.nphotons, diffraction_domain=diffraction_domain, overwrite=False,
    )
    test_container = (None if test_data is None
                      else create_ptycho_data_container(test_data, config, n_groups=None))
    logger.info("training on %d memory-mapped groups from %s (pytorch backend)", len(dataset), dataset.directory)
    trained = torch_training.train_models_mmap(dataset, config, execution, monitor=monitor)
    register_trained_model(ops, trained, config)
    results = training_results(ops, trained, config, None, test_container, execution)
    record_runtime_params(results)

    amp = phase = None
    if do_stitching:
        amp, phase = stitch_results(results, M=M, flip_x=flip_x, flip_y=flip_y, transpose=transpose)
    return amp, phase, results
