"""``TrainingConfig``: data, loss weights and optimisation settings (api spec §2.2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from ptychopinn_plugin.config._checks import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    deprecated_alias,
    to_path,
)
from ptychopinn_plugin.config.model_config import ModelConfig, validate_model_config

logger = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "pytorch")
DEFAULT_TRAIN_GROUPS = 512


def check_backend(owner: str, value: object) -> None:
    """Backend literal check with the message the error catalogue asks for."""
    if value not in BACKENDS:
        raise ValueError(
            f"{owner}.backend = {value!r} is invalid; allowed: 'tensorflow' or 'pytorch'"
        )


def is_power_of_two(value: int) -> bool:
    return value > 0 and (value & (value - 1)) == 0


@dataclass
class TrainingConfig:
    """What to train on and how. Mutable and picklable (crosses a spawn boundary)."""

    model: ModelConfig
    """Architecture settings (flattened into the legacy dictionary)."""
    train_data_file: Optional[Path] = None
    """Canonical NPZ with the training data."""
    test_data_file: Optional[Path] = None
    """Canonical NPZ evaluated after training (optional)."""
    batch_size: int = 16
    """Groups per optimisation step; a power of two is expected."""
    nepochs: int = 50
    """Number of passes over the training groups."""
    mae_weight: float = 0.0
    """Weight of the diffraction-amplitude MAE loss, in [0, 1]."""
    nll_weight: float = 1.0
    """Weight of the Poisson negative log-likelihood, in [0, 1]."""
    realspace_mae_weight: float = 0.0
    """Weight of the real-space MAE against ground-truth patches (needs realspace_weight > 0)."""
    realspace_weight: float = 0.0
    """Overall weight of the real-space terms (MAE and TV)."""
    tv_weight: float = 0.0
    """Weight of the total-variation regulariser inside the real-space term."""
    nphotons: float = 1e9
    """Mean photons per diffraction pattern; sets the Poisson noise level the loss assumes."""
    n_groups: Optional[int] = None
    """Number of groups to train on (None → 512)."""
    n_images: Optional[int] = None
    """Deprecated alias of n_groups."""
    n_subsample: Optional[int] = None
    """Randomly keep this many scan positions before grouping (None = all)."""
    subsample_seed: Optional[int] = None
    """Seed of the subsampling draw."""
    neighbor_count: int = 4
    """K nearest neighbours from which group members are drawn."""
    enable_oversampling: bool = False
    """Allow more groups than scan positions (gridsize > 1) by combining neighbours."""
    neighbor_pool_size: Optional[int] = None
    """Neighbour pool for oversampling (None → neighbor_count)."""
    positions_provided: bool = True
    """Compatibility flag; accepted and unused."""
    probe_trainable: bool = False
    """Optimise the probe together with the network."""
    intensity_scale_trainable: bool = True
    """Train the global log intensity scale w."""
    output_dir: Path = field(default_factory=lambda: Path("training_outputs"))
    """Where the archive, history and images are written."""
    sequential_sampling: bool = False
    """Use the first scan positions as group seeds instead of a random draw."""
    seed: Optional[int] = None
    """Seeds grouping, weight initialisation and shuffling (reproducibility)."""
    backend: Literal["tensorflow", "pytorch"] = "tensorflow"
    """Deep-learning backend that trains the model."""
    pretrain_steps: int = 0
    """Synthetic pretraining steps before training on the data (0 = off; PyTorch backend,
    PINN): supervised steps on fresh procedural objects simulated through the training
    data's own probe, group geometry and dose (issue #11; docs/architecture.md)."""

    def __post_init__(self) -> None:
        if self.n_images is not None and self.n_groups is None:
            deprecated_alias("TrainingConfig", "n_images", "n_groups")
            self.n_groups = self.n_images
        if self.n_groups is None:
            self.n_groups = DEFAULT_TRAIN_GROUPS
        self.train_data_file = to_path("TrainingConfig", "train_data_file", self.train_data_file, allow_none=True)
        self.test_data_file = to_path("TrainingConfig", "test_data_file", self.test_data_file, allow_none=True)
        self.output_dir = to_path("TrainingConfig", "output_dir", self.output_dir, allow_none=False)
        validate_training_fields(self)
        if not is_power_of_two(self.batch_size):
            logger.warning("TrainingConfig.batch_size = %d is not a power of two", self.batch_size)


NPHOTONS_MIN = 1.0
"""Smallest accepted ``nphotons``: below one photon per pattern nothing is measurable."""
NPHOTONS_MAX = 1e15
"""Largest accepted ``nphotons``.  Real scans hold up to ~1e12 photons per pattern; far
above that the intensity scale ``s = sqrt(nphotons)/(N/2)`` times the data overflows
float32 in the network input and the loss (issue #15: 1e300 trained to NaN)."""


def validate_training_fields(cfg: TrainingConfig) -> None:
    """Field-level checks (no power-of-two rule: that one only warns here)."""
    owner = "TrainingConfig"
    if not isinstance(cfg.model, ModelConfig):
        raise ValueError(f"{owner}.model = {cfg.model!r} is invalid; allowed: a ModelConfig")
    check_int(owner, "batch_size", cfg.batch_size, exclusive_minimum=0)
    check_int(owner, "nepochs", cfg.nepochs, exclusive_minimum=0)
    check_float(owner, "mae_weight", cfg.mae_weight, minimum=0.0, maximum=1.0)
    check_float(owner, "nll_weight", cfg.nll_weight, minimum=0.0, maximum=1.0)
    check_float(owner, "realspace_mae_weight", cfg.realspace_mae_weight, minimum=0.0)
    check_float(owner, "realspace_weight", cfg.realspace_weight, minimum=0.0)
    check_float(owner, "tv_weight", cfg.tv_weight, minimum=0.0)
    if cfg.realspace_mae_weight > 0 and not cfg.realspace_weight > 0:
        raise ValueError(
            f"{owner}.realspace_mae_weight = {cfg.realspace_mae_weight!r} requires "
            f"realspace_weight > 0 (got {cfg.realspace_weight!r})"
        )
    try:
        check_float(owner, "nphotons", cfg.nphotons, minimum=NPHOTONS_MIN, maximum=NPHOTONS_MAX)
    except ValueError:
        raise ValueError(
            f"{owner}.nphotons = {cfg.nphotons!r} is invalid; allowed: a number from {NPHOTONS_MIN:g} to "
            f"{NPHOTONS_MAX:g} (nphotons is the mean photon count per diffraction pattern; it sets the network's "
            "intensity scale, physics §3)"
        ) from None
    check_int(owner, "n_groups", cfg.n_groups, exclusive_minimum=0, allow_none=True)
    check_int(owner, "n_images", cfg.n_images, exclusive_minimum=0, allow_none=True)
    check_int(owner, "n_subsample", cfg.n_subsample, exclusive_minimum=0, allow_none=True)
    check_int(owner, "subsample_seed", cfg.subsample_seed, allow_none=True)
    check_int(owner, "neighbor_count", cfg.neighbor_count, minimum=1)
    check_bool(owner, "enable_oversampling", cfg.enable_oversampling)
    check_int(owner, "neighbor_pool_size", cfg.neighbor_pool_size, minimum=1, allow_none=True)
    for name in ("positions_provided", "probe_trainable", "intensity_scale_trainable", "sequential_sampling"):
        check_bool(owner, name, getattr(cfg, name))
    check_int(owner, "seed", cfg.seed, allow_none=True)
    check_backend(owner, cfg.backend)
    check_int(owner, "pretrain_steps", cfg.pretrain_steps, minimum=0)


def validate_training_config(cfg: TrainingConfig) -> None:
    """Strict validation used by the CLI: also requires N and a power-of-two batch size."""
    validate_model_config(cfg.model, require_n=True)
    validate_training_fields(cfg)
    if not is_power_of_two(cfg.batch_size):
        raise ValueError(
            f"TrainingConfig.batch_size = {cfg.batch_size} is invalid; allowed: a power of two (1, 2, 4, 8, 16, ...)"
        )
    c = cfg.model.gridsize ** 2
    if cfg.model.gridsize > 1 and cfg.neighbor_count < c:
        raise ValueError(
            f"TrainingConfig.neighbor_count = {cfg.neighbor_count} is invalid; allowed: >= gridsize² = {c}"
        )
    if cfg.enable_oversampling and cfg.neighbor_pool_size is not None and cfg.neighbor_pool_size < c:
        raise ValueError(
            f"TrainingConfig.neighbor_pool_size = {cfg.neighbor_pool_size} is invalid; allowed: >= gridsize² = {c} "
            "when enable_oversampling is set"
        )
    if cfg.model.model_type == "supervised" and cfg.model.gridsize != 1:
        raise ValueError(
            f"supervised training requires gridsize == 1 (got gridsize = {cfg.model.gridsize})"
        )
    if cfg.train_data_file is not None and not Path(cfg.train_data_file).exists():
        raise FileNotFoundError(f"TrainingConfig.train_data_file does not exist: {cfg.train_data_file}")
