"""Loading and grouping data for the workflows (data spec §2.1 ``load_data``, §2.2, §3.1).

``create_ptycho_data_container`` is the single place where a configuration turns into
grouping arguments, so training, evaluation, inference and the CLIs all group the same
way: ``N``, ``gridsize`` and ``K = neighbor_count`` from the config, ``nsamples`` =
``n_groups`` (None = one group per scan position), the oversampling fields, and the
seed.  Grouping always normalises the data afresh (data §2.5).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional, Union

from ptychopinn_plugin.config import InferenceConfig, TrainingConfig
from ptychopinn_plugin.config.model_config import ALLOWED_N, UNSUPPORTED_N_HINT
from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.data.subsample import subsample_raw_data
from ptychopinn_plugin.data.validation import require_model_ready

logger = logging.getLogger(__name__)

__all__ = [
    "INFERENCE_GROUPING_SEED",
    "load_data",
    "create_ptycho_data_container",
    "as_numpy_container",
]

INFERENCE_GROUPING_SEED = 0
"""Grouping seed when the configuration has none (InferenceConfig): reconstructions of
the same data with the same model are then identical run to run."""

_FROM_CONFIG: Any = object()

Config = Union[TrainingConfig, InferenceConfig]


def load_data(
    file_path: Union[str, "os.PathLike[str]"],
    n_subsample: Optional[int] = None,
    subsample_seed: Optional[int] = None,
    *,
    diffraction_domain: str = "amplitude",
) -> RawData:
    """Read a dataset NPZ (data §1) and optionally keep a seeded random subset of positions.

    ``n_subsample`` positions are drawn without replacement (sorted afterwards) with a
    private ``numpy.random.Generator(subsample_seed)``; the global RNG is untouched and
    nothing is written to disk.  ``RawData.sample_indices`` records the kept rows.
    """
    raw = RawData.from_file(file_path, diffraction_domain=diffraction_domain)
    return subsample_raw_data(raw, n_subsample, subsample_seed)


def as_numpy_container(data: Any) -> Optional[PtychoDataContainer]:
    """The NumPy container behind ``data`` (NumPy container or a TF/torch view), else None."""
    if isinstance(data, PtychoDataContainer):
        return data
    inner = getattr(data, "numpy", None)
    if isinstance(inner, PtychoDataContainer):
        return inner
    return None


def create_ptycho_data_container(
    data: Any,
    config: Config,
    *,
    n_groups: Any = _FROM_CONFIG,
    seed: Any = _FROM_CONFIG,
    nphotons: Optional[float] = None,
) -> PtychoDataContainer:
    """Group ``data`` (``RawData``) with ``config`` and wrap it in a NumPy container.

    A container (NumPy, TF or torch view) is returned as its NumPy container after a
    check of ``N`` and the channel count.  ``n_groups``/``seed`` override the config's
    values (``n_groups=None`` = one group per scan position); the seed defaults to
    ``config.seed`` for a ``TrainingConfig`` and to :data:`INFERENCE_GROUPING_SEED` for
    an ``InferenceConfig``.  ``nphotons`` (only informational for the container's
    ``norm_Y_I``) defaults to ``config.nphotons`` or the TrainingConfig default.
    """
    model = config.model
    channels = model.gridsize ** 2
    container = as_numpy_container(data)
    if container is not None:
        _, n, _, c = container.X.shape
        if n != model.N or c != channels:
            raise ValueError(
                f"container holds {n}×{n} patterns with {c} channels; the configuration needs N = {model.N} "
                f"and gridsize = {model.gridsize} ({channels} channels)"
            )
        return container
    if not isinstance(data, RawData):
        raise TypeError(f"expected RawData or a PtychoDataContainer; got {type(data).__name__}")
    origin = getattr(data, "source_path", None)
    named = f"{origin}: " if origin is not None else ""
    diff = getattr(data, "diff3d", None)
    n_data = None if diff is None else int(diff.shape[-1])
    if n_data is not None and n_data != model.N:
        raise ValueError(
            f"{named}the diffraction patterns are {n_data}×{n_data} but the model needs N = {model.N}"
            + ("" if n_data in ALLOWED_N else f" ({UNSUPPORTED_N_HINT})")
        )
    require_model_ready(data, "workflow")
    groups = config.n_groups if n_groups is _FROM_CONFIG else n_groups
    if seed is _FROM_CONFIG:
        seed = config.seed if isinstance(config, TrainingConfig) else INFERENCE_GROUPING_SEED
    sequential = bool(getattr(config, "sequential_sampling", False))
    if nphotons is None:
        nphotons = getattr(config, "nphotons", None) or TrainingConfig.__dataclass_fields__["nphotons"].default
    # The core method, called explicitly: a ``ptycho.raw_data.RawData`` overrides it with the
    # shim's per-scan-position ``nsamples`` meaning, but a config's n_groups is a total.
    grouped = RawData.generate_grouped_data(
        data,
        model.N,
        K=config.neighbor_count,
        nsamples=groups,
        seed=seed,
        sequential_sampling=sequential,
        gridsize=model.gridsize,
        enable_oversampling=config.enable_oversampling,
        neighbor_pool_size=config.neighbor_pool_size,
    )
    return PtychoDataContainer.from_grouped(grouped, data.probeGuess, float(nphotons))
