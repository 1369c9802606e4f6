"""Translation between the ``ptycho_torch`` configs (what Ptychodus's settings page passes,
§4T.7) and ptychopinn's typed configs (``ModelConfig``, ``TrainingConfig``,
``PyTorchExecutionConfig``).

Three jobs, each one function:

* :func:`support_problems`: every setting we refuse (category R of §4T.7) and every rule that
  spans fields, as one message line each naming the GUI label, the value and what is
  allowed; ``ConfigManager`` raises them together as one ``ValueError`` (§4T.7.5).
* :func:`warn_accepted_settings`: one WARNING per accepted-but-ineffective setting at a
  non-default value (category A), and the CBAM-encoder WARNING (D1).
* :func:`to_model_config` / :func:`to_training_config` / :func:`to_execution_config`: the
  honoured settings (category H) mapped onto our configs (§4T.12).

Light: standard library and ``ptychopinn_plugin.config`` only (no framework).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ptychopinn_plugin.config import ModelConfig as OurModelConfig
from ptychopinn_plugin.config import PyTorchExecutionConfig
from ptychopinn_plugin.config import TrainingConfig as OurTrainingConfig

from .config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig

logger = logging.getLogger(__name__)

__all__ = [
    "MODES",
    "SUPPORTED_N",
    "accelerator_for_device",
    "gridsize_of",
    "support_problems",
    "to_execution_config",
    "to_model_config",
    "to_training_config",
    "warn_accepted_settings",
]

MODES = {"Unsupervised": "pinn", "Supervised": "supervised"}
SUPPORTED_N = (64, 128, 256)
DEVICES = ("cuda", "gpu", "cpu", "mps", "auto")
STRATEGIES = ("ddp_spawn", "ddp", "auto")

# (config attribute, field, GUI label, the only value accepted, reason shown) — category R.
_REFUSED: tuple[tuple[str, str, str, Any, str], ...] = (
    ("data", "neighbor_function", "Neighbor Function", "Nearest", "only K-nearest-neighbour grouping is implemented"),
    ("data", "probe_normalize", "Normalize Probe", True, "the probe is always normalised (physics §6.1)"),
    ("data", "probe_ramp_removal", "Probe Ramp Removal", False, "probe ramp removal is not implemented"),
    ("data", "data_scaling", "Data Scaling", "Parseval", "only the energy (Parseval) normalisation is implemented"),
    ("model", "use_shared_decoder", "Shared Decoder", False, "the network has separate amplitude and phase decoders"),
    ("model", "amp_loss", "Auxiliary Amplitude Loss Function", None, "auxiliary losses are not implemented"),
    ("model", "phase_loss", "Auxiliary Phase Loss Function", None, "auxiliary losses are not implemented"),
    ("model", "eca_decoder", "ECA Decoder", False, "attention blocks are not implemented"),
    ("model", "batch_norm", "Use Batch Normalization", False, "the reference network has no batch normalisation"),
    ("model", "edge_pad", "Edge Padding", 10, "only the reference decoder (10) is implemented"),
    ("model", "decoder_last_c_outer_fraction", "Decoder Last C Outer Fraction", 0.125,
     "only the reference decoder (0.125) is implemented"),
    ("model", "cbam_bottleneck", "CBAM Bottleneck", False, "attention blocks are not implemented"),
    ("model", "cbam_decoder", "CBAM Decoder", False, "attention blocks are not implemented"),
    ("model", "spatial_decoder", "Decoder Spatial Attention", False, "attention blocks are not implemented"),
    ("model", "eca_encoder", "ECA Encoder", False, "attention blocks are not implemented"),
    ("model", "probe_reference_coeff", "Probe Reference Loss Coefficient", 0.0, "the probe is not trained"),
    ("model", "amplitude_variance_loss", "Amplitude Variance Loss", False, "the amplitude variance loss is not implemented"),
    ("training", "epochs_fine_tune", "Fine Tune Epochs", 0, "fine-tuning epochs are not implemented"),
    ("training", "enable_staged_finetuning", "Enable Staged Fine Tuning", False, "staged fine-tuning is not implemented"),
)

# (config attribute, field, GUI label) — category A: recorded, no effect.
_ACCEPTED: tuple[tuple[str, str, str], ...] = (
    ("data", "normalize", "Normalize"),
    ("data", "scan_pattern", "Scan Pattern"),
    ("data", "x_bounds", "X Lower / Upper Bound"),
    ("data", "y_bounds", "Y Lower / Upper Bound"),
    ("data", "min_neighbor_distance", "Min Neighbor Distance [px]"),
    ("data", "max_neighbor_distance", "Max Neighbor Distance [px]"),
    ("data", "K_quadrant", "Nearest Neighbors for Quadrant Lookup"),
    ("data", "n_subsample", "Coordinate Subsampling Factor"),
    ("data", "phase_subtraction", "Subtract Phase"),
    ("model", "intensity_scale", "Intensity Scale"),
    ("model", "amp_loss_coeff", "Auxiliary Amplitude Loss Coefficient"),
    ("model", "phase_loss_coeff", "Auxiliary Phase Loss Coefficient"),
    ("model", "decoder_spatial_kernel", "Decoder Spatial Atttention Kernel"),
    ("model", "amplitude_variance_coeff", "Amplitude Variance Coefficient"),
    ("training", "fine_tune_gamma", "Fine Tune Gamma"),
    ("training", "notes", "MLflow Notes"),
    ("training", "model_name", "MLflow Model Name"),
    ("training", "finetune_stage1_epochs", "Fine Tune Stage 1 Epochs"),
    ("training", "finetune_stage2_epochs", "Fine Tune Stage 2 Epochs"),
    ("training", "finetune_stage3_epochs", "Fine Tune Stage 3 Epochs"),
    ("training", "finetune_stage1_lr_decoder", "Fine Tune Stage 1 LR Decoder"),
    ("training", "finetune_stage2_lr_encoder_top", "Fine Tune Stage 2 LR Encoder Top"),
    ("training", "finetune_stage2_lr_decoder", "Fine Tune Stage 2 LR Decoder"),
    ("training", "finetune_stage2_lr_phase_head", "Fine Tune Stage 2 LR Phase Head"),
    ("training", "finetune_stage3_lr_encoder_bottom", "Fine Tune Stage 3 LR Encoder Bottom"),
    ("training", "finetune_stage3_lr_encoder_top", "Fine Tune Stage 3 LR Encoder Top"),
    ("training", "finetune_stage3_lr_decoder", "Fine Tune Stage 3 LR Decoder"),
    ("training", "finetune_stage3_lr_phase_head", "Fine Tune Stage 3 LR Phase Head"),
    ("training", "finetune_skip_stage3", "Skip Fine Tune Stage 3"),
    ("training", "finetune_early_stop_patience", "Fine Tune Early Stop Patience"),
    ("training", "finetune_val_split", "Fine Tune Validation Split"),
    ("inference", "pad_eval", "Pad Evaluation Edges"),
    ("inference", "window", "Window Padding"),
)


def _configs(data: DataConfig, model: ModelConfig, training: TrainingConfig,
             inference: InferenceConfig) -> dict[str, Any]:
    return {"data": data, "model": model, "training": training, "inference": inference}


def gridsize_of(data: DataConfig) -> int:
    """The gridsize: 'Grid Size X' (= 'Grid Size Y', checked by :func:`support_problems`)."""
    return int(data.grid_size[1])


def accelerator_for_device(device: str) -> str:
    """'Device' → our accelerator, with the CPU fallback of §4T.4.5 (a WARNING when the
    requested device is absent).  Imports torch: call it in the training child only."""
    import torch

    name = str(device).strip().casefold()
    if name in ("cuda", "gpu"):
        if torch.cuda.is_available():
            return "gpu"
        logger.warning("'Device' = %r but no CUDA device is available; training on the CPU", device)
        return "cpu"
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        logger.warning("'Device' = 'mps' but MPS is not available; training on the CPU")
        return "cpu"
    if name in ("cpu", "auto"):
        return name
    raise ValueError(f"'Device' = {device!r} is not supported; allowed: {', '.join(DEVICES)}")


def support_problems(data: DataConfig, model: ModelConfig, training: TrainingConfig,
                     inference: InferenceConfig) -> list[str]:
    """Every unsupported setting, one line each: ``'<GUI label>' (<field>=<value>): why; what to do``."""
    configs = _configs(data, model, training, inference)
    problems: list[str] = []
    for owner, name, label, allowed, why in _REFUSED:
        value = getattr(configs[owner], name)
        if value != allowed:
            problems.append(f"'{label}' ({name}={value!r}): {why}; allowed: {allowed!r}")
    if model.mode not in MODES:
        problems.append(f"mode = {model.mode!r}: allowed: {', '.join(MODES)}")
    if data.N not in SUPPORTED_N:
        problems.append(f"'Model Size' (N={data.N}): allowed: {', '.join(map(str, SUPPORTED_N))}")
    gy, gx = data.grid_size
    if gx != gy:
        problems.append(f"'Grid Size X' / 'Grid Size Y' (grid_size={data.grid_size!r}): only square groups are "
                        "supported; set both to the same value")
    elif gx < 1:
        problems.append(f"'Grid Size X' / 'Grid Size Y' (grid_size={data.grid_size!r}): must be >= 1")
    channels = {data.C, model.decoder_last_amp_channels, model.C_model, model.C_forward}
    if len(channels) != 1:
        problems.append(f"'Channels': C={data.C}, decoder_last_amp_channels={model.decoder_last_amp_channels}, "
                        f"C_model={model.C_model}, C_forward={model.C_forward} must be equal")
    elif gx == gy and gx >= 1 and data.C != gx * gy:
        problems.append(f"'Channels' (C={data.C}) must equal 'Grid Size X' × 'Grid Size Y' = {gx * gy}")
    if data.C > 1 and data.K < data.C:
        problems.append(f"'Nearest Neighbors for Lookup' (K={data.K}) must be >= 'Channels' ({data.C})")
    if not data.probe_scale > 0:
        problems.append(f"'Probe Scale' (probe_scale={data.probe_scale!r}): must be > 0")
    if gx == gy and gx >= 1 and ((gx - 1) * model.offset + model.max_position_jitter) % 2:
        problems.append(f"'Offset' ({model.offset}) and 'Max Position Jitter' ({model.max_position_jitter}): "
                        f"(gridsize − 1)·offset + jitter = {(gx - 1) * model.offset + model.max_position_jitter} "
                        "must be even")
    if model.loss_function == "Poisson" and not training.nll:
        problems.append("'Use Negative Log Likelihood Loss' (nll=False) with 'Loss Function' = Poisson: the Poisson "
                        "loss is the negative log-likelihood; check it, or choose MAE")
    if model.mode == "Supervised" and (data.C != 1 or gx != 1 or gy != 1):
        problems.append(f"Supervised training needs 'Channels' = 1 and 'Grid Size X' = 'Grid Size Y' = 1 "
                        f"(got C={data.C}, grid {gx}×{gy}): the supervised network uses gridsize 1")
    if not training.learning_rate > 0:
        problems.append(f"'Learning Rate' ({training.learning_rate!r}): must be > 0")
    if training.n_devices != 1:
        problems.append(f"'Number of GPUs' (n_devices={training.n_devices}): only 1 is supported here; set "
                        f"'Number of GPUs' to 1, or train multi-GPU with ptychopinn-train --torch-devices "
                        f"{training.n_devices}")
    if training.device.strip().casefold() not in DEVICES:
        problems.append(f"'Device' (device={training.device!r}): allowed: {', '.join(DEVICES)}")
    if training.strategy.strip().casefold() not in STRATEGIES:
        problems.append(f"'Distributed Strategy' (strategy={training.strategy!r}): allowed: {', '.join(STRATEGIES)}")
    for name in ("framework", "orchestrator"):
        if getattr(training, name) != "Lightning":
            problems.append(f"{name} = {getattr(training, name)!r}: allowed: 'Lightning'")
    if training.min_lr_ratio > 1:
        problems.append(f"'Min Learning Rate Ratio' ({training.min_lr_ratio}): allowed: [0, 1]")
    m = inference.middle_trim
    if m % 2 or not 2 <= m <= data.N:
        problems.append(f"'Middle Trim' (middle_trim={m}): must be even with 2 <= M <= 'Model Size' ({data.N})")
    return problems


def warn_accepted_settings(data: DataConfig, model: ModelConfig, training: TrainingConfig,
                           inference: InferenceConfig) -> int:
    """Log the D1 CBAM WARNING and one WARNING per category-A setting away from its
    default; returns how many were logged."""
    defaults = _configs(DataConfig(), ModelConfig(), TrainingConfig(), InferenceConfig())
    configs = _configs(data, model, training, inference)
    count = 0
    if model.cbam_encoder:
        logger.warning("'CBAM Encoder' is on but ptychopinn's network has no attention blocks; the reference network "
                       "is trained")
        count += 1
    for owner, name, label in _ACCEPTED:
        value = getattr(configs[owner], name)
        if value != getattr(defaults[owner], name):
            logger.warning("'%s' = %r has no effect in ptychopinn", label, value)
            count += 1
    if (training.warmup_epochs != 0 or training.min_lr_ratio != 0.1) and training.scheduler != "Cosine":
        logger.warning("'Warmup Epochs' / 'Min Learning Rate Ratio' have no effect unless 'Learning Rate Scheduler' "
                       "is Cosine")
        count += 1
    return count


def to_model_config(data: DataConfig, model: ModelConfig) -> OurModelConfig:
    """The honoured model settings as our ``ModelConfig`` (the reference network)."""
    return OurModelConfig(
        N=int(data.N),
        gridsize=gridsize_of(data),
        n_filters_scale=int(model.n_filters_scale),
        model_type=MODES[model.mode],  # type: ignore[arg-type]
        amp_activation="swish" if model.amp_activation == "silu" else "sigmoid",
        object_big=bool(model.object_big),
        probe_big=bool(model.probe_big),
        probe_mask=False,
        pad_object=True,
        probe_scale=float(data.probe_scale),
        offset=int(model.offset),
        max_position_jitter=int(model.max_position_jitter),
    )


def to_training_config(data: DataConfig, model: ModelConfig, training: TrainingConfig, *, nphotons: float,
                       output_dir: Path) -> OurTrainingConfig:
    """The honoured training settings as our ``TrainingConfig``: one group per scan position
    (D3), K from 'Nearest Neighbors for Lookup', ``nphotons`` derived from the data (D2)."""
    mae = model.loss_function == "MAE"
    return OurTrainingConfig(
        model=to_model_config(data, model),
        batch_size=int(training.batch_size),
        nepochs=int(training.epochs),
        mae_weight=1.0 if mae else 0.0,
        nll_weight=0.0 if mae else 1.0,
        nphotons=float(nphotons),
        n_groups=None,
        neighbor_count=max(int(data.K), 1),
        intensity_scale_trainable=bool(model.intensity_scale_trainable),
        output_dir=Path(output_dir),
        seed=int(training.seed),
        backend="pytorch",
    )


def to_execution_config(training: TrainingConfig, inference: InferenceConfig, *,
                        accelerator: Optional[str] = None) -> PyTorchExecutionConfig:
    """The honoured execution settings (one device, in-process; the schedule of 'Learning
    Rate Scheduler'; no early stopping, D6).  ``accelerator``: already resolved by
    :func:`accelerator_for_device` (None → 'cpu', for inference-side use)."""
    scheduler = {"Default": "Default", "Exponential": "Exponential", "Cosine": "WarmupCosine"}[training.scheduler]
    return PyTorchExecutionConfig(
        accelerator=accelerator or "cpu",
        devices=1,
        strategy="auto",
        learning_rate=float(training.learning_rate),
        scheduler=scheduler,
        lr_warmup_epochs=int(training.warmup_epochs),
        lr_min_ratio=float(training.min_lr_ratio),
        accum_steps=int(training.accum_steps),
        gradient_clip_val=None if training.gradient_clip_val is None else float(training.gradient_clip_val),
        num_workers=int(training.num_workers),
        # Seeded and deterministic algorithms; with loader workers only warn-only (their
        # ordering is not reproducible anyway, and True would log that on every build).
        deterministic=True if int(training.num_workers) == 0 else "warn",
        enable_progress_bar=False,
        logger_backend="csv",
        inference_batch_size=int(inference.batch_size),
    )
