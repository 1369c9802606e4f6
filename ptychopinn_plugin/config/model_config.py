"""``ModelConfig``: the network architecture and physics switches (api spec §2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ptychopinn_plugin.config._checks import check_bool, check_choice, check_float, check_int

ALLOWED_N = (64, 128, 256)
UNSUPPORTED_N_HINT = f"PtychoPINN models need N = {', '.join(map(str, ALLOWED_N))} (physics §4.2): crop or bin the patterns"
"""What a user with patterns of another size can do (ends every such message)."""
MODEL_TYPES = ("pinn", "supervised")
ARCHITECTURES = ("cnn", "resnet")
AMP_ACTIVATIONS = ("sigmoid", "swish", "softplus", "relu")


@dataclass
class ModelConfig:
    """Architecture of the generator and of the differentiable forward model.

    Mutable on purpose: Ptychodus 1.7 builds it with ``N = 0`` in its GUI process and
    assigns ``model.N`` in a spawned worker once the data are known.
    """

    N: int = 64
    """Patch / diffraction-pattern side in pixels: 64, 128 or 256 (0 = not yet known)."""
    gridsize: int = 1
    """Neighbouring scan positions per group along each side; C = gridsize² channels."""
    n_filters_scale: int = 2
    """Multiplier k of the convolution filter ladder (physics §4.2)."""
    model_type: Literal["pinn", "supervised"] = "pinn"
    """'pinn' (self-supervised through the forward model) or 'supervised' (PtychoNN-like)."""
    architecture: Literal["cnn", "resnet"] = "cnn"
    """Generator family: 'cnn' = the reference network of physics §4.1–§4.3 (bit for bit);
    'resnet' = residual blocks, GroupNorm, He init, dense bottleneck and coordinate
    channels (physics §4.4 amendment; docs/architecture.md), PyTorch backend."""
    amp_activation: Literal["sigmoid", "swish", "softplus", "relu"] = "sigmoid"
    """Activation of the amplitude decoder's last convolution."""
    object_big: bool = True
    """Merge the C channel patches of a group on a shared canvas (physics §5)."""
    probe_big: bool = True
    """Let the decoders also predict the border outside the central N/2 window."""
    probe_mask: bool = False
    """Multiply the illuminated patch by the circular probe mask (physics §6.2)."""
    pad_object: bool = True
    """Confine the object to the central N/2×N/2 window (zero-padded to N)."""
    probe_scale: float = 4.0
    """Probe normalisation: mean |mask·P| = 1/probe_scale; fixes the amplitude gauge."""
    gaussian_smoothing_sigma: float = 0.0
    """σ of the 3×3 Gaussian smoothing of the illuminated patch (0 = off)."""
    offset: int = 4
    """Extra canvas pixels per additional grid row in the object_big canvas (physics §5)."""
    max_position_jitter: int = 10
    """Extra canvas margin for position jitter; canvas P = N + (g−1)·offset + jitter."""
    group_refine_iterations: int = 0
    """Error-reduction iterations applied to each group's canvas against the group's own
    measured patterns, inside the model, after the generator (docs/architecture.md, "Group
    refinement"); 0 = the forward model of physics §5–§8 unchanged.  Both backends."""
    group_refine_momentum: float = 0.0
    """Nesterov momentum β of the group refinement, in [0, 1): each iteration steps from
    ``u + β·(u − u_previous)``.  0 = plain error reduction (the setting archives written
    before this field existed read as).  0.9 reaches with 20 iterations what plain error
    reduction reaches with 100 (docs/benchmarks.md, "Group refinement")."""

    def __post_init__(self) -> None:
        validate_model_fields(self)

    @property
    def channels(self) -> int:
        """Channels per group, C = gridsize²."""
        return self.gridsize * self.gridsize


def validate_model_fields(cfg: ModelConfig) -> None:
    """Field-level checks; re-run by workflows because fields may be assigned later."""
    owner = "ModelConfig"
    if isinstance(cfg.N, bool) or not isinstance(cfg.N, int) or (cfg.N != 0 and cfg.N not in ALLOWED_N):
        raise ValueError(
            f"{owner}.N = {cfg.N!r} is invalid; allowed: one of {ALLOWED_N} (or 0 = not yet known)"
        )
    check_int(owner, "gridsize", cfg.gridsize, minimum=1)
    check_int(owner, "n_filters_scale", cfg.n_filters_scale, minimum=1)
    check_choice(owner, "model_type", cfg.model_type, MODEL_TYPES)
    check_choice(owner, "architecture", cfg.architecture, ARCHITECTURES)
    check_choice(owner, "amp_activation", cfg.amp_activation, AMP_ACTIVATIONS)
    for name in ("object_big", "probe_big", "probe_mask", "pad_object"):
        check_bool(owner, name, getattr(cfg, name))
    check_float(owner, "probe_scale", cfg.probe_scale, exclusive_minimum=0.0)
    check_float(owner, "gaussian_smoothing_sigma", cfg.gaussian_smoothing_sigma, minimum=0.0)
    check_int(owner, "offset", cfg.offset, minimum=0)
    check_int(owner, "max_position_jitter", cfg.max_position_jitter, minimum=0)
    check_int(owner, "group_refine_iterations", cfg.group_refine_iterations, minimum=0)
    check_float(owner, "group_refine_momentum", cfg.group_refine_momentum, minimum=0.0)
    if cfg.group_refine_momentum >= 1.0:
        raise ValueError(f"{owner}.group_refine_momentum = {cfg.group_refine_momentum!r} is invalid; "
                         "expected a number in [0, 1) (0 = plain error reduction, 0.9 = the measured recipe)")


def validate_model_config(cfg: ModelConfig, require_n: bool = False) -> None:
    """Validate a ModelConfig; with ``require_n`` the patch size must be known (non-zero)."""
    validate_model_fields(cfg)
    if require_n and cfg.N == 0:
        raise ValueError(
            "ModelConfig.N is not set (0). N is normally derived from the data: it is the side "
            f"of the diffraction patterns (one of {ALLOWED_N}); set config.model.N before training "
            "or inference"
        )
    canvas_margin = (cfg.gridsize - 1) * cfg.offset + cfg.max_position_jitter
    if canvas_margin % 2:
        raise ValueError(
            f"ModelConfig: canvas margin (gridsize-1)*offset + max_position_jitter = {canvas_margin} "
            "must be even so the N×N patch sits centrally on the object_big canvas"
        )


def require_supported_n(n: int, where: str = "model") -> None:
    """Raise the data-contract error for an unsupported patch size (data §1.7)."""
    if n not in ALLOWED_N:
        raise ValueError(f"N = {n} is not supported for a {where}; allowed N: {set(ALLOWED_N)}")


def neighbour_pool_for(gridsize: int) -> int:
    """The smallest neighbour pool ``neighbor_count`` that groups well at ``gridsize``: 4 up to
    gridsize 2 (the spec default; C = 4 at gridsize 2), ``C + 3`` above (12 at gridsize 3,
    the pool the measured recipe uses, docs/benchmarks.md "Group refinement").  Inference
    falls back to it when the configured pool is smaller than the model's C."""
    c = int(gridsize) ** 2
    return 4 if gridsize <= 2 else c + 3
