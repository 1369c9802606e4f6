"""``InferenceConfig``: reconstruct a dataset with a trained model (api spec §2.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from ptychopinn_plugin.config._checks import check_bool, check_float, check_int, deprecated_alias, to_path
from ptychopinn_plugin.config.model_config import ModelConfig, validate_model_config
from ptychopinn_plugin.config.refinement_config import DEFAULT_REFINE_STEP_SIZE, RefinementConfig
from ptychopinn_plugin.config.training_config import check_backend

ARCHIVE_NAME = "wts.h5.zip"


DEFAULT_INFERENCE_OUTPUT_DIR = "inference_outputs"
"""``InferenceConfig.output_dir`` when none is given (the CLI checks it before any work)."""


@dataclass
class InferenceConfig:
    """Which model to apply to which data, and how to stitch the result."""

    model: ModelConfig
    """Architecture settings (the archive's own values win when a model is loaded)."""
    model_path: Path
    """Archive file, a directory holding wts.h5.zip, or an unpacked archive directory."""
    test_data_file: Path
    """Canonical NPZ to reconstruct."""
    n_groups: Optional[int] = None
    """Groups to reconstruct (None = one group per scan position)."""
    n_images: Optional[int] = None
    """Deprecated alias of n_groups."""
    n_subsample: Optional[int] = None
    """Randomly keep this many scan positions before grouping (None = all)."""
    subsample_seed: Optional[int] = None
    """Seed of the subsampling draw."""
    neighbor_count: int = 4
    """K nearest neighbours from which group members are drawn."""
    enable_oversampling: bool = False
    """Allow more groups than scan positions (gridsize > 1)."""
    neighbor_pool_size: Optional[int] = None
    """Neighbour pool for oversampling (None → neighbor_count)."""
    stitch_crop_size: int = 20
    """Central M×M of each predicted patch used for stitching (even, 2 ≤ M ≤ N)."""
    debug: bool = False
    """Write extra diagnostic outputs."""
    output_dir: Path = field(default_factory=lambda: Path(DEFAULT_INFERENCE_OUTPUT_DIR))
    """Where reconstructions are written."""
    backend: Literal["tensorflow", "pytorch"] = "tensorflow"
    """Backend used for prediction (must match the archive's)."""
    refine_iterations: int = 0
    """Physics refinement after the network: iterations that optimise the stitched object
    through the forward model and the (variance-stabilised) Poisson likelihood, probe and positions fixed (0 = off;
    needs PyTorch)."""
    refine_step_size: float = DEFAULT_REFINE_STEP_SIZE
    """Refinement step as a fraction of the full Fisher-scoring step (0 < step <= 2)."""

    def __post_init__(self) -> None:
        if self.n_images is not None and self.n_groups is None:
            deprecated_alias("InferenceConfig", "n_images", "n_groups")
            self.n_groups = self.n_images
        self.model_path = to_path("InferenceConfig", "model_path", self.model_path, allow_none=False)
        self.test_data_file = to_path("InferenceConfig", "test_data_file", self.test_data_file, allow_none=False)
        self.output_dir = to_path("InferenceConfig", "output_dir", self.output_dir, allow_none=False)
        validate_inference_fields(self)


def validate_inference_fields(cfg: InferenceConfig) -> None:
    owner = "InferenceConfig"
    if not isinstance(cfg.model, ModelConfig):
        raise ValueError(f"{owner}.model = {cfg.model!r} is invalid; allowed: a ModelConfig")
    check_int(owner, "n_groups", cfg.n_groups, exclusive_minimum=0, allow_none=True)
    check_int(owner, "n_images", cfg.n_images, exclusive_minimum=0, allow_none=True)
    check_int(owner, "n_subsample", cfg.n_subsample, exclusive_minimum=0, allow_none=True)
    check_int(owner, "subsample_seed", cfg.subsample_seed, allow_none=True)
    check_int(owner, "neighbor_count", cfg.neighbor_count, minimum=1)
    check_bool(owner, "enable_oversampling", cfg.enable_oversampling)
    check_int(owner, "neighbor_pool_size", cfg.neighbor_pool_size, minimum=1, allow_none=True)
    check_stitch_crop_size(cfg.stitch_crop_size, None)
    check_bool(owner, "debug", cfg.debug)
    check_backend(owner, cfg.backend)
    check_int(owner, "refine_iterations", cfg.refine_iterations, minimum=0)
    check_float(owner, "refine_step_size", cfg.refine_step_size, exclusive_minimum=0.0, maximum=2.0)


def refinement_of(cfg: InferenceConfig) -> RefinementConfig:
    """The :class:`RefinementConfig` an inference run asks for."""
    return RefinementConfig(iterations=cfg.refine_iterations, step_size=cfg.refine_step_size)


def check_stitch_crop_size(value: object, n: int | None) -> None:
    """Stitch crop M: even, 2 ≤ M ≤ N (upper bound only when N is known)."""
    upper = f"{n}" if n else "N"
    if isinstance(value, bool) or not isinstance(value, int) or value < 2 or value % 2 or (n and value > n):
        raise ValueError(
            f"stitch_crop_size = {value!r} is invalid; allowed: an even integer with 2 <= M <= {upper}"
            + (f" (N = {n})" if n else "")
        )


def resolve_model_archive(model_path: Path) -> Path:
    """Find the archive behind ``model_path`` (file, directory or unpacked archive).

    Returns the archive file or the unpacked directory; raises ``ValueError`` listing
    every path tried.
    """
    model_path = Path(model_path)
    tried: list[Path] = []
    candidates = []
    if model_path.is_dir():
        candidates = [model_path / ARCHIVE_NAME, model_path / "manifest.json"]
    else:
        candidates = [model_path]
        if model_path.name.endswith(".h5"):
            candidates.append(model_path.with_name(model_path.name + ".zip"))
    for candidate in candidates:
        tried.append(candidate)
        if candidate.is_file():
            return candidate.parent if candidate.name == "manifest.json" else candidate
    raise ValueError(
        "no model archive found for model_path; tried: " + ", ".join(str(p) for p in tried)
    )


def validate_inference_config(cfg: InferenceConfig) -> None:
    """Strict validation: N known, crop size within N, archive and data present."""
    validate_model_config(cfg.model, require_n=True)
    validate_inference_fields(cfg)
    check_stitch_crop_size(cfg.stitch_crop_size, cfg.model.N)
    resolve_model_archive(cfg.model_path)
    if not Path(cfg.test_data_file).exists():
        raise FileNotFoundError(f"InferenceConfig.test_data_file does not exist: {cfg.test_data_file}")
