"""Lightning ``Trainer`` pieces from a ``PyTorchExecutionConfig`` (api spec §2.6).

* accelerator ``'auto'`` → ``cuda`` if available, else ``cpu`` with a WARNING;
* loggers: ``csv`` (default) / ``tensorboard`` under ``<output_dir>/lightning_logs/``,
  ``mlflow``, ``none``; a missing optional package raises ``RuntimeError`` naming it and
  how to install it — never a silent fallback;
* strategies ``auto``/``ddp``/``ddp_spawn``/``fsdp`` go to Lightning unchanged; the data
  modules shard batches themselves, so Lightning's sampler replacement is off;
* callbacks: EarlyStopping (``early_stop_monitor``, default ``train_loss``, patience
  ``early_stop_patience``, min_delta 0, no best-weights restore — Keras ``EarlyStopping``
  counts the same way) checked at the end of each training epoch, and ModelCheckpoint
  under ``<output_dir>/checkpoints`` (Lightning writes checkpoints through an fsspec
  transaction: temp file, then move).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from ptychopinn_plugin.config import PyTorchExecutionConfig

logger = logging.getLogger(__name__)

__all__ = [
    "resolve_accelerator",
    "build_logger",
    "build_callbacks",
    "build_trainer",
    "inference_batch_size",
    "is_spawn_strategy",
    "trains_in_child_processes",
    "LOG_DIR_NAME",
    "CHECKPOINT_DIR_NAME",
]

LOG_DIR_NAME = "lightning_logs"
CHECKPOINT_DIR_NAME = "checkpoints"


def resolve_accelerator(accelerator: str) -> str:
    """``'auto'`` → ``'cuda'`` when CUDA is available, else ``'cpu'`` (logged as a WARNING)."""
    if accelerator != "auto":
        return accelerator
    if torch.cuda.is_available():
        return "cuda"
    logger.warning("PyTorchExecutionConfig.accelerator='auto': no CUDA device available, training on the CPU")
    return "cpu"


def _require(module: str, package: str, how: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise RuntimeError(
            f"PyTorchExecutionConfig.logger_backend needs the '{package}' package, which is not installed; "
            f"install it with {how}"
        )


def build_logger(execution_config: PyTorchExecutionConfig, output_dir: Path) -> Any:
    """The Lightning logger for ``logger_backend`` (``False`` for ``'none'``)."""
    name = execution_config.logger_backend or "none"
    if name == "none":
        return False
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(output_dir), name=LOG_DIR_NAME)
    if name == "tensorboard":
        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            raise RuntimeError(
                "PyTorchExecutionConfig.logger_backend='tensorboard' needs the 'tensorboard' package, which is not "
                "installed; install it with pip install 'ptychopinn[tensorboard]' (or pip install tensorboard), "
                "or choose logger_backend='csv'"
            )
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=str(output_dir), name=LOG_DIR_NAME)
    if name == "mlflow":
        _require("mlflow", "mlflow", "pip install 'ptychopinn[mlflow]' (mlflow-skinny)")
        from lightning.pytorch.loggers import MLFlowLogger

        # No URI configured: MLFLOW_TRACKING_URI if set, else a file store under output_dir
        # (never Lightning's default ./mlruns in the current working directory).
        uri = execution_config.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            uri = (Path(output_dir).resolve() / "mlruns").as_uri()
        try:
            return MLFlowLogger(experiment_name=execution_config.mlflow_experiment or "ptychopinn", tracking_uri=uri)
        except Exception as exc:  # mlflow raises its own MlflowException type
            raise RuntimeError(
                f"cannot open the MLflow tracking store {uri!r}: {exc}. Set PyTorchExecutionConfig.mlflow_tracking_uri "
                "to a tracking server (or database) URI; MLflow >= 3 refuses plain file stores unless "
                "MLFLOW_ALLOW_FILE_STORE=true is set in the environment"
            ) from exc
    raise ValueError(f"PyTorchExecutionConfig.logger_backend = {name!r} is invalid")


def build_callbacks(
    execution_config: PyTorchExecutionConfig, output_dir: Path, *, has_validation: bool
) -> list[Callback]:
    """EarlyStopping and (when enabled) ModelCheckpoint; a ``val_*`` metric falls back to
    ``train_loss`` (WARNING) when there is no validation data."""
    cfg = execution_config
    early_monitor = cfg.early_stop_monitor
    if early_monitor.startswith("val_") and not has_validation:
        logger.warning("no validation data: early stopping monitors 'train_loss' instead of %r", early_monitor)
        early_monitor = "train_loss"
    callbacks: list[Callback] = [
        EarlyStopping(
            monitor=early_monitor,
            patience=int(cfg.early_stop_patience),
            min_delta=0.0,
            mode="min",
            check_on_train_epoch_end=True,
            strict=True,
            verbose=False,
        )
    ]
    if cfg.enable_checkpointing:
        monitor: Optional[str] = cfg.checkpoint_monitor_metric
        if monitor.startswith("val_") and not has_validation:
            logger.warning("no validation data: checkpoints monitor 'train_loss' instead of %r", monitor)
            monitor = "train_loss"
        callbacks.append(
            ModelCheckpoint(
                dirpath=str(Path(output_dir) / CHECKPOINT_DIR_NAME),
                monitor=monitor,
                mode=cfg.checkpoint_mode,
                save_top_k=int(cfg.checkpoint_save_top_k),
                save_last=False,
            )
        )
    return callbacks


def is_spawn_strategy(strategy: str) -> bool:
    """True when Lightning trains in spawned child processes (the caller's objects are copies)."""
    return strategy == "ddp_spawn"


def trains_in_child_processes(trainer: Any) -> bool:
    """True when ``trainer.fit`` will run in multiprocessing children (spawn/fork launcher)."""
    launcher = getattr(trainer.strategy, "launcher", None)
    return getattr(launcher, "_start_method", None) in ("spawn", "fork", "forkserver")


def inference_batch_size(execution_config: Optional[PyTorchExecutionConfig], training_batch_size: int) -> int:
    """``inference_batch_size``, or the training ``batch_size`` when unset (api spec §2.6)."""
    if execution_config is not None and execution_config.inference_batch_size is not None:
        return int(execution_config.inference_batch_size)
    return int(training_batch_size)


def resolve_precision(precision: str, accelerator: str) -> tuple[str, str]:
    """``(Lightning precision, reason)`` for a configured precision on a resolved accelerator
    (``'auto'`` → :func:`ptychopinn_plugin.util.hardware.choose_precision`)."""
    from ptychopinn_plugin.util.hardware import choose_precision

    device = {"gpu": "cuda"}.get(accelerator, accelerator)
    cuda_bf16 = False
    if precision == "auto" and device == "cuda" and torch.cuda.is_available():
        cuda_bf16 = bool(torch.cuda.is_bf16_supported())
    return choose_precision(precision, device=device, cuda_bf16=cuda_bf16)


def build_trainer(
    execution_config: PyTorchExecutionConfig,
    *,
    nepochs: int,
    output_dir: Path,
    callbacks: list[Callback],
    has_validation: bool,
    accelerator: str,
    precision: str,
) -> Any:
    """The Lightning ``Trainer`` honouring every execution field (api spec §2.6).

    ``accelerator`` and ``precision`` are the execution config's, already resolved by the
    caller (:func:`resolve_accelerator`, :func:`resolve_precision`), which also logs and
    records them: resolved once per training."""
    from lightning.pytorch import Trainer

    exe = execution_config
    return Trainer(
        accelerator=accelerator,
        devices=exe.devices,
        strategy=exe.strategy,
        precision=precision,
        deterministic=exe.deterministic,
        gradient_clip_val=exe.gradient_clip_val,
        gradient_clip_algorithm=exe.gradient_clip_algorithm if exe.gradient_clip_val is not None else None,
        accumulate_grad_batches=exe.accum_steps,
        max_epochs=int(nepochs),
        logger=build_logger(exe, output_dir),
        callbacks=callbacks,
        enable_checkpointing=exe.enable_checkpointing,
        enable_progress_bar=exe.enable_progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=None if has_validation else 0,
        log_every_n_steps=1,
        use_distributed_sampler=False,
        default_root_dir=str(output_dir),
    )
