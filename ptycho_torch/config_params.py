"""The five config classes stock Ptychodus 1.7 builds from its PtychoPINN-Torch settings
(specs/ptycho_torch_compat.md §4T.3.2, §4T.7).

Light on purpose: Ptychodus imports this module in its GUI process and pickles the objects
into the spawned training child, so it imports nothing but the standard library and the
objects hold only ``int``/``float``/``bool``/``str``/``None``/``tuple``.  Every field has
the Ptychodus setting's default, so ``DataConfig()`` etc. work for direct users too.

``__post_init__`` checks types and the ranges Ptychodus's own settings enforce, and
stores string choices in their canonical spelling (matched case-insensitively; ``mode`` is
kept verbatim).  Whether a value is *supported* is decided later by
``ptycho_torch.api.base_api.ConfigManager`` (§4T.7.5), so the configs stored in any
checkpoint can always be rebuilt and reported.  ``to_dict``/``from_dict`` are the plain-data
form written into checkpoints (§4T.5.2).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Optional

logger = logging.getLogger(__name__)

__all__ = ["DataConfig", "DatagenConfig", "InferenceConfig", "ModelConfig", "TrainingConfig"]


def _f(default: Any, *, minimum: Optional[float] = None, maximum: Optional[float] = None,
       choices: Optional[tuple[str, ...]] = None, kind: Optional[type] = None, optional: bool = False) -> Any:
    """A dataclass field with the checks ``__post_init__`` applies (plain metadata only)."""
    meta = {"minimum": minimum, "maximum": maximum, "choices": choices, "optional": optional,
            "kind": kind if kind is not None else type(default)}
    if isinstance(default, tuple):
        return field(default=default, metadata=meta)
    return field(default=default, metadata=meta)


def _check_value(owner: str, name: str, value: Any, meta: dict) -> Any:
    """``value`` checked against ``meta`` and coerced (int → float, list → tuple, canonical
    spelling of a string choice); ``ValueError``/``TypeError`` name the class and field."""
    kind = meta["kind"]
    if value is None:
        if meta["optional"]:
            return None
        raise TypeError(f"{owner}.{name} = None is invalid; expected {kind.__name__}")
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{owner}.{name} = {value!r} is invalid; expected True or False")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{owner}.{name} = {value!r} is invalid; expected an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{owner}.{name} = {value!r} is invalid; expected a number")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{owner}.{name} = {value!r} is invalid; expected a finite number")
    elif kind is str:
        if not isinstance(value, str):
            raise TypeError(f"{owner}.{name} = {value!r} is invalid; expected a string")
        choices = meta["choices"]
        if choices:
            canonical = {c.casefold(): c for c in choices}
            if value.casefold() not in canonical:
                raise ValueError(f"{owner}.{name} = {value!r} is invalid; allowed: {', '.join(choices)}")
            value = canonical[value.casefold()]
        return value
    elif kind is tuple:
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError(f"{owner}.{name} = {value!r} is invalid; expected a pair")
        return tuple(value)
    if meta["minimum"] is not None and value < meta["minimum"]:
        raise ValueError(f"{owner}.{name} = {value!r} is invalid; expected >= {meta['minimum']}")
    if meta["maximum"] is not None and value > meta["maximum"]:
        raise ValueError(f"{owner}.{name} = {value!r} is invalid; expected <= {meta['maximum']}")
    return value


class _PlainConfig:
    """Shared checks and the plain-dict form of the five configs."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata:
                setattr(self, f.name, _check_value(owner, f.name, getattr(self, f.name), dict(f.metadata)))
        self._check_pairs()

    def _check_pairs(self) -> None:
        """Checks that span fields (overridden where needed)."""

    def to_dict(self) -> dict[str, Any]:
        """Builtins only (tuples as lists): the checkpoint form (§4T.5.2)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, values: Any) -> Any:
        """Rebuild from :meth:`to_dict`'s form: unknown keys are ignored with a WARNING,
        missing keys take their defaults."""
        if isinstance(values, cls):
            return values
        if not isinstance(values, dict):
            raise TypeError(f"{cls.__name__}.from_dict needs a dict; got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            logger.warning("%s: ignoring unknown keys %s", cls.__name__, ", ".join(map(str, unknown)))
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class DataConfig(_PlainConfig):
    """Ptychodus group ``[PtychoPINNTorchData]`` (§4T.7.1)."""

    N: int = _f(128, minimum=1)
    """'Model Size': pattern side; 64, 128 or 256 are supported."""
    C: int = _f(4, minimum=1)
    """'Channels': patterns per group, gridsize²."""
    normalize: str = _f("Batch", choices=("Group", "Batch"))
    """'Normalize' (recorded; data §2.5 normalisation is always used)."""
    neighbor_function: str = _f("Nearest", choices=("Nearest", "Min_dist", "4_quadrant"))
    """'Neighbor Function': only 'Nearest' (K-nearest-neighbour grouping) is supported."""
    scan_pattern: str = _f("Isotropic", choices=("Isotropic", "Rectangular"))
    """'Scan Pattern' (recorded)."""
    probe_normalize: bool = _f(True)
    """'Normalize Probe': physics §6.1 normalisation is always applied (False is refused)."""
    x_bounds: tuple = _f((0.1, 0.9), kind=tuple)
    """'X Lower/Upper Bound' (recorded)."""
    y_bounds: tuple = _f((0.1, 0.9), kind=tuple)
    """'Y Lower/Upper Bound' (recorded)."""
    min_neighbor_distance: float = _f(0.0, minimum=0.0)
    """'Min Neighbor Distance [px]' (recorded)."""
    max_neighbor_distance: float = _f(3.0, minimum=0.0)
    """'Max Neighbor Distance [px]' (recorded)."""
    K_quadrant: int = _f(30, minimum=0)
    """'Nearest Neighbors for Quadrant Lookup' (recorded)."""
    n_subsample: int = _f(7, minimum=1)
    """'Coordinate Subsampling Factor' (recorded; one group per scan position, D3)."""
    probe_scale: float = _f(4.0, minimum=0.0)
    """'Probe Scale': physics §6.1 probe normalisation (must be > 0)."""
    K: int = _f(6, minimum=0)
    """'Nearest Neighbors for Lookup': grouping K (>= C when C > 1)."""
    grid_size: tuple = _f((2, 2), kind=tuple)
    """'Grid Size Y', 'Grid Size X' in that (row, column) order; both equal gridsize."""
    probe_ramp_removal: bool = _f(False)
    """'Probe Ramp Removal' (True is refused)."""
    data_scaling: str = _f("Parseval", choices=("Parseval", "Max"))
    """'Data Scaling': only 'Parseval' (the energy normalisation of data §2.5)."""
    phase_subtraction: bool = _f(True)
    """'Subtract Phase' (recorded)."""

    def _check_pairs(self) -> None:
        for name in ("grid_size",):
            value = getattr(self, name)
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
                raise ValueError(f"DataConfig.{name} = {value!r} is invalid; expected two integers >= 0")
        for name in ("x_bounds", "y_bounds"):
            value = getattr(self, name)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in value):
                raise ValueError(f"DataConfig.{name} = {value!r} is invalid; expected two numbers in [0, 1]")
            setattr(self, name, tuple(float(v) for v in value))


@dataclass
class ModelConfig(_PlainConfig):
    """Ptychodus group ``[PtychoPINNTorchModel]`` (§4T.7.2)."""

    mode: str = _f("Unsupervised")
    """The reconstructor: 'Unsupervised' (the PINN) or 'Supervised'; stored verbatim."""
    object_big: bool = _f(True)
    """'Object Big' (physics §5)."""
    probe_big: bool = _f(True)
    """'Probe Big' (physics §4.3 border branch)."""
    loss_function: str = _f("Poisson", choices=("Poisson", "MAE"))
    """'Loss Function': Poisson NLL or amplitude MAE (physics §12.1)."""
    amp_activation: str = _f("silu", choices=("silu", "sigmoid"))
    """'Amplitude Activation': silu ≡ our swish."""
    cbam_encoder: bool = _f(True)
    """'CBAM Encoder': accepted with a WARNING, no attention is built (D1)."""
    decoder_last_amp_channels: int = _f(4, minimum=1)
    """Equals 'Channels'."""
    use_shared_decoder: bool = _f(False)
    """'Shared Decoder' (True is refused)."""
    intensity_scale_trainable: bool = _f(False)
    """'Intensity Scale Trainable': whether the log-scale w trains."""
    intensity_scale: float = _f(10000.0, minimum=0.0)
    """'Intensity Scale' (recorded; s is derived from the data, D2)."""
    max_position_jitter: int = _f(10, minimum=0)
    """'Max Position Jitter' (physics §5)."""
    num_datasets: int = _f(1, minimum=1)
    """'Datasets' (recorded; a WARNING when it differs from the training files found)."""
    C_model: int = _f(4, minimum=1)
    """Equals 'Channels'."""
    C_forward: int = _f(4, minimum=1)
    """Equals 'Channels'."""
    amp_loss: Optional[str] = _f(None, kind=str, optional=True)
    """'Auxiliary Amplitude Loss Function' (None only)."""
    phase_loss: Optional[str] = _f(None, kind=str, optional=True)
    """'Auxiliary Phase Loss Function' (None only)."""
    amp_loss_coeff: float = _f(1.0, minimum=0.0)
    """'Auxiliary Amplitude Loss Coefficient' (recorded)."""
    phase_loss_coeff: float = _f(1.0, minimum=0.0)
    """'Auxiliary Phase Loss Coefficient' (recorded)."""
    n_filters_scale: int = _f(2, minimum=1)
    """'Num Filters Scale' (physics §4.2)."""
    probe_mask: Optional[bool] = _f(None, kind=bool, optional=True)
    """Always None from Ptychodus (≡ no probe mask)."""
    eca_decoder: bool = _f(False)
    """'ECA Decoder' (True is refused)."""
    batch_norm: bool = _f(False)
    """'Use Batch Normalization' (True is refused)."""
    edge_pad: int = _f(10, minimum=0)
    """'Edge Padding' (only 10, the reference decoder)."""
    decoder_last_c_outer_fraction: float = _f(0.125, minimum=0.0, maximum=1.0)
    """'Decoder Last C Outer Fraction' (only 0.125, the reference decoder)."""
    cbam_bottleneck: bool = _f(False)
    """'CBAM Bottleneck' (True is refused)."""
    cbam_decoder: bool = _f(False)
    """'CBAM Decoder' (True is refused)."""
    spatial_decoder: bool = _f(False)
    """'Decoder Spatial Attention' (True is refused)."""
    decoder_spatial_kernel: int = _f(7, minimum=1)
    """'Decoder Spatial Atttention Kernel' (recorded)."""
    eca_encoder: bool = _f(False)
    """'ECA Encoder' (True is refused)."""
    offset: int = _f(6, minimum=0)
    """'Offset' (physics §5 canvas)."""
    probe_reference_coeff: float = _f(0.0, minimum=0.0)
    """'Probe Reference Loss Coefficient' (only 0)."""
    amplitude_variance_loss: bool = _f(False)
    """'Amplitude Variance Loss' (True is refused)."""
    amplitude_variance_coeff: float = _f(0.01, minimum=0.0)
    """'Amplitude Variance Coefficient' (recorded)."""


@dataclass
class TrainingConfig(_PlainConfig):
    """Ptychodus group ``[PtychoPINNTorchTraining]`` (§4T.7.3)."""

    epochs: int = _f(50, minimum=1)
    """'Default Epochs': epochs trained (no early stopping, D6)."""
    batch_size: int = _f(16, minimum=1)
    """'Batch Size'."""
    learning_rate: float = _f(1e-3, minimum=0.0)
    """'Learning Rate' (must be > 0)."""
    n_devices: int = _f(1, minimum=1)
    """'Number of GPUs' (1 only, D7); Ptychodus's child writes it."""
    num_workers: int = _f(4, minimum=0)
    """'Dataloader Workers'."""
    accum_steps: int = _f(1, minimum=1)
    """'Gradient Accumulation Steps'."""
    epochs_fine_tune: int = _f(0, minimum=0)
    """'Fine Tune Epochs' (only 0)."""
    fine_tune_gamma: float = _f(0.1, minimum=0.0, maximum=1.0)
    """'Fine Tune Gamma' (recorded)."""
    gradient_clip_val: Optional[float] = _f(None, kind=float, optional=True, minimum=0.0)
    """'Gradient Clip Value' (None = off)."""
    nll: bool = _f(True)
    """'Use Negative Log Likelihood Loss' (False with Poisson is refused)."""
    device: str = _f("cuda")
    """'Device': cuda/gpu, cpu, mps or auto; cuda falls back to the CPU with a WARNING."""
    strategy: str = _f("ddp_spawn")
    """'Distributed Strategy': ddp_spawn, ddp or auto (recorded; one device runs in-process)."""
    framework: str = _f("Lightning")
    """Constant 'Lightning'."""
    orchestrator: str = _f("Lightning")
    """Constant 'Lightning'."""
    scheduler: str = _f("Default", choices=("Default", "Exponential", "Cosine"))
    """'Learning Rate Scheduler': constant, γ = 0.95 per epoch, or warm-up + cosine."""
    warmup_epochs: int = _f(0, minimum=0)
    """'Warmup Epochs' (with Cosine)."""
    min_lr_ratio: float = _f(0.1, minimum=0.0)
    """'Min Learning Rate Ratio' (with Cosine; [0, 1])."""
    notes: str = _f("")
    """'MLflow Notes' (recorded)."""
    model_name: str = _f("PtychoPINNv2")
    """'MLflow Model Name' (recorded)."""
    enable_staged_finetuning: bool = _f(False)
    """'Enable Staged Fine Tuning' (True is refused)."""
    finetune_stage1_epochs: int = _f(7, minimum=1)
    finetune_stage2_epochs: int = _f(7, minimum=1)
    finetune_stage3_epochs: int = _f(5, minimum=1)
    finetune_stage1_lr_decoder: float = _f(0.1, minimum=0.0)
    finetune_stage2_lr_encoder_top: float = _f(0.01, minimum=0.0)
    finetune_stage2_lr_decoder: float = _f(0.05, minimum=0.0)
    finetune_stage2_lr_phase_head: float = _f(0.1, minimum=0.0)
    finetune_stage3_lr_encoder_bottom: float = _f(0.005, minimum=0.0)
    finetune_stage3_lr_encoder_top: float = _f(0.01, minimum=0.0)
    finetune_stage3_lr_decoder: float = _f(0.02, minimum=0.0)
    finetune_stage3_lr_phase_head: float = _f(0.05, minimum=0.0)
    finetune_skip_stage3: bool = _f(True)
    finetune_early_stop_patience: int = _f(3, minimum=1)
    finetune_val_split: float = _f(0.05, minimum=0.0, maximum=1.0)
    """The staged fine-tuning settings above are recorded only (staged fine-tuning is refused)."""
    seed: int = _f(0, minimum=0)
    """(ours) Seed of the grouping and the weights; recorded in the checkpoint."""


@dataclass
class InferenceConfig(_PlainConfig):
    """Ptychodus group ``[PtychoPINNTorchInference]`` (§4T.7.4); stored at training time."""

    batch_size: int = _f(1000, minimum=1)
    """'Batch Size' of inference."""
    middle_trim: int = _f(32, minimum=0)
    """'Middle Trim': stitch crop M (even, 2 <= M <= N; D4)."""
    experiment_number: int = _f(0, minimum=0)
    """'Experiment Number': experiment id used by ``PtychoDataLoader.from_np``."""
    patch_weighting: str = _f("probe", choices=("probe", "uniform"))
    """'Patch Weighting Method' (D5)."""
    pad_eval: bool = _f(True)
    """'Pad Evaluation Edges' (recorded)."""
    window: int = _f(20, minimum=0)
    """'Window Padding' (recorded)."""


@dataclass
class DatagenConfig(_PlainConfig):
    """Ptychodus passes ``DatagenConfig()`` and uses no field of it."""
