"""``PyTorchExecutionConfig``: how (not what) the PyTorch backend runs (api spec §2.6).

Execution settings never enter the legacy ``params.cfg`` dictionary.  Resolution of
``accelerator='auto'`` happens in the torch backend (it needs torch to look for CUDA).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Union

from ptychopinn_plugin.config._checks import check_bool, check_choice, check_float, check_int

logger = logging.getLogger(__name__)

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
STRATEGIES = ("auto", "ddp", "ddp_spawn", "fsdp")
PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed")
CLIP_ALGORITHMS = ("norm", "value")
SCHEDULERS = ("Default", "Exponential", "ReduceLROnPlateau", "WarmupCosine")
CHECKPOINT_MODES = ("min", "max")
LOGGER_BACKENDS = ("csv", "tensorboard", "mlflow", "none")


@dataclass
class PyTorchExecutionConfig:
    """Hardware, precision, data loading, schedule and logging of PyTorch training."""

    accelerator: str = "auto"
    """'auto' (cuda if available, else cpu), 'cpu', 'gpu', 'cuda' or 'mps'."""
    devices: Union[int, str] = 1
    """Number of devices (positive int) or 'auto'."""
    strategy: str = "auto"
    """Lightning strategy: 'auto', 'ddp', 'ddp_spawn' (required inside a GUI process) or 'fsdp'."""
    deterministic: Union[bool, str] = True
    """Seed everything and use deterministic algorithms (True, False or 'warn')."""
    precision: str = "auto"
    """'auto' (default: 'bf16-mixed' where the device computes bf16 natively — a CPU with AMX
    or AVX512-BF16, a CUDA device with bf16 — else '32-true'; decided at run time, logged
    and archived), '32-true', '16-mixed' or 'bf16-mixed'.  The physics (FFT, merge,
    extraction, loss) always runs in float32/complex64."""
    gradient_clip_val: Optional[float] = None
    """Clip gradients at this value (None = no clipping)."""
    gradient_clip_algorithm: str = "norm"
    """'norm' or 'value'."""
    accum_steps: int = 1
    """Accumulate gradients over this many batches."""
    num_workers: int = 0
    """DataLoader worker processes."""
    pin_memory: bool = False
    """Pin host memory of batches (useful with CUDA)."""
    persistent_workers: bool = False
    """Keep DataLoader workers alive between epochs (needs num_workers > 0)."""
    prefetch_factor: Optional[int] = None
    """Batches prefetched per worker (needs num_workers > 0)."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    scheduler: str = "ReduceLROnPlateau"
    """'Default' (constant), 'Exponential', 'ReduceLROnPlateau' (TF parity) or 'WarmupCosine'."""
    lr_warmup_epochs: int = 0
    """Linear warm-up epochs for WarmupCosine."""
    lr_min_ratio: float = 0.1
    """Final lr / initial lr for WarmupCosine, in [0, 1] (0 = decay to zero; ptycho_torch §4T.7.3 amendment)."""
    early_stop_patience: int = 3
    """Stop when the monitored loss has not improved for this many epochs."""
    early_stop_monitor: str = "train_loss"
    """Metric watched by early stopping."""
    enable_checkpointing: bool = True
    """Write Lightning checkpoints under the output directory."""
    checkpoint_save_top_k: int = 1
    """Checkpoints kept (-1 = all)."""
    checkpoint_monitor_metric: str = "val_loss"
    """Metric ranking checkpoints (falls back to train_loss without validation data)."""
    checkpoint_mode: str = "min"
    """'min' or 'max' for the monitored metric."""
    enable_progress_bar: bool = False
    """Show Lightning's own progress bar."""
    logger_backend: Optional[str] = "csv"
    """'csv', 'tensorboard', 'mlflow' or 'none' (None ≡ 'none')."""
    mlflow_tracking_uri: Optional[str] = None
    """MLflow tracking URI (only with logger_backend='mlflow')."""
    mlflow_experiment: Optional[str] = None
    """MLflow experiment name (only with logger_backend='mlflow')."""
    inference_batch_size: Optional[int] = None
    """Batch size for prediction (None = training batch_size)."""

    def __post_init__(self) -> None:
        if self.logger_backend is None:
            self.logger_backend = "none"
        validate_execution_config(self)


def validate_execution_config(cfg: PyTorchExecutionConfig) -> None:
    owner = "PyTorchExecutionConfig"
    if cfg.accelerator == "tpu":
        raise ValueError(f"{owner}.accelerator = 'tpu' is unsupported; allowed: one of {ACCELERATORS}")
    check_choice(owner, "accelerator", cfg.accelerator, ACCELERATORS)
    if cfg.devices != "auto":
        check_int(owner, "devices", cfg.devices, exclusive_minimum=0)
    check_choice(owner, "strategy", cfg.strategy, STRATEGIES)
    if cfg.deterministic not in (True, False, "warn") or (
        not isinstance(cfg.deterministic, bool) and cfg.deterministic != "warn"
    ):
        raise ValueError(f"{owner}.deterministic = {cfg.deterministic!r} is invalid; allowed: True, False or 'warn'")
    check_choice(owner, "precision", cfg.precision, PRECISIONS)
    check_float(owner, "gradient_clip_val", cfg.gradient_clip_val, exclusive_minimum=0.0, allow_none=True)
    check_choice(owner, "gradient_clip_algorithm", cfg.gradient_clip_algorithm, CLIP_ALGORITHMS)
    check_int(owner, "accum_steps", cfg.accum_steps, minimum=1)
    check_int(owner, "num_workers", cfg.num_workers, minimum=0)
    check_bool(owner, "pin_memory", cfg.pin_memory)
    check_bool(owner, "persistent_workers", cfg.persistent_workers)
    if cfg.persistent_workers and cfg.num_workers == 0:
        raise ValueError(f"{owner}.persistent_workers = True requires num_workers > 0 (got 0)")
    check_int(owner, "prefetch_factor", cfg.prefetch_factor, exclusive_minimum=0, allow_none=True)
    if cfg.prefetch_factor is not None and cfg.num_workers == 0:
        raise ValueError(f"{owner}.prefetch_factor = {cfg.prefetch_factor} requires num_workers > 0 (got 0)")
    check_float(owner, "learning_rate", cfg.learning_rate, exclusive_minimum=0.0)
    if cfg.scheduler in ("MultiStage", "Adaptive"):
        raise ValueError(
            f"{owner}.scheduler = {cfg.scheduler!r} is not supported (removed); allowed: one of {SCHEDULERS}"
        )
    check_choice(owner, "scheduler", cfg.scheduler, SCHEDULERS)
    check_int(owner, "lr_warmup_epochs", cfg.lr_warmup_epochs, minimum=0)
    check_float(owner, "lr_min_ratio", cfg.lr_min_ratio, minimum=0.0, maximum=1.0)
    check_int(owner, "early_stop_patience", cfg.early_stop_patience, exclusive_minimum=0)
    if not isinstance(cfg.early_stop_monitor, str) or not cfg.early_stop_monitor:
        raise ValueError(f"{owner}.early_stop_monitor = {cfg.early_stop_monitor!r} is invalid; allowed: a metric name")
    check_bool(owner, "enable_checkpointing", cfg.enable_checkpointing)
    check_int(owner, "checkpoint_save_top_k", cfg.checkpoint_save_top_k, minimum=-1)
    if not isinstance(cfg.checkpoint_monitor_metric, str) or not cfg.checkpoint_monitor_metric:
        raise ValueError(
            f"{owner}.checkpoint_monitor_metric = {cfg.checkpoint_monitor_metric!r} is invalid; allowed: a metric name"
        )
    check_choice(owner, "checkpoint_mode", cfg.checkpoint_mode, CHECKPOINT_MODES)
    check_bool(owner, "enable_progress_bar", cfg.enable_progress_bar)
    check_choice(owner, "logger_backend", cfg.logger_backend, LOGGER_BACKENDS)
    check_int(owner, "inference_batch_size", cfg.inference_batch_size, exclusive_minimum=0, allow_none=True)
    if cfg.deterministic is True and cfg.num_workers > 0:
        logger.warning(
            "%s: deterministic=True with num_workers=%d; worker ordering may still vary", owner, cfg.num_workers
        )


def require_gui_safe_strategy(cfg: PyTorchExecutionConfig, where: str) -> PyTorchExecutionConfig:
    """Refuse ``strategy='ddp'`` for training started from a GUI (api spec §2.6).

    Lightning's ``ddp`` launcher starts the extra ranks by re-running the current
    program's command line; from a GUI (Ptychodus, the desktop app or its worker process)
    that would open new copies of the application.  ``ddp_spawn`` starts plain worker
    processes instead.  ``where`` names the setting as the user sees it (start of the message).
    """
    if cfg.strategy == "ddp":
        raise ValueError(
            f"{where} = 'ddp' is invalid inside a GUI application (it re-launches the program for "
            "each extra process); allowed: 'auto', 'ddp_spawn' or 'fsdp' — choose 'ddp_spawn' for multi-device "
            "training"
        )
    return cfg
