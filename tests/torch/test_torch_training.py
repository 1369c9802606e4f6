"""Lightning training, monitor protocol, cooperative stop, inference and state-dict files."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.models import build_models
from ptychopinn_plugin.backends.torch.monitor import CallbackMonitor, TrainingMonitor
from ptychopinn_plugin.backends.torch.predict import predict_objects
from ptychopinn_plugin.backends.torch.saving import load_state_dict, save_state_dict
from ptychopinn_plugin.backends.torch.training import TrainResult, train_models
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig

FAST = dict(accelerator="cpu", enable_checkpointing=False, logger_backend="none")


def _config(tmp_path, gridsize=1, nepochs=3, **kwargs):
    model = ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, **kwargs.pop("model", {}))
    return TrainingConfig(model=model, nepochs=nepochs, batch_size=8, nphotons=1e6, seed=7,
                          output_dir=tmp_path / "out", **kwargs)


def test_training_decreases_loss_reports_each_epoch_and_writes_logs(container_factory, tmp_path):
    container = container_factory(gridsize=1, n_groups=24)
    monitor = CallbackMonitor()
    assert isinstance(monitor, TrainingMonitor)
    exe = PyTorchExecutionConfig(accelerator="cpu", logger_backend="csv", enable_checkpointing=True)
    result = train_models(container, _config(tmp_path), exe, monitor=monitor)
    assert isinstance(result, TrainResult) and result.completed and result.epochs_run == 3
    hist = result.history
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["train_loss"] == hist["loss"] and len(hist["val_loss"]) == 3
    assert {"pred_intensity_loss", "val_pred_intensity_loss", "learning_rate"} <= set(hist)
    assert [epoch for epoch, _ in monitor.epochs] == [0, 1, 2]
    for (epoch, logs), loss, val in zip(monitor.epochs, hist["loss"], hist["val_loss"]):
        assert logs["train_loss"] == loss and logs["val_loss"] == val and math.isfinite(val)
    assert result.batches_run == 3 * 3  # 22 training groups in batches of 8
    assert result.intensity_scale == pytest.approx(math.sqrt(1e6) / 32)
    assert result.intensity_scale_trained != result.intensity_scale  # w is trainable by default
    assert result.probe.shape == (64, 64) and result.probe.dtype == np.complex64
    out = tmp_path / "out"
    assert list((out / "lightning_logs").glob("version_*/metrics.csv"))
    assert list((out / "checkpoints").glob("*.ckpt"))


def test_stop_request_ends_training_after_the_current_batch(container_factory, tmp_path):
    container = container_factory(gridsize=2, n_groups=24)
    polls = {"n": 0}

    def stop() -> bool:
        polls["n"] += 1
        return polls["n"] >= 2

    monitor = CallbackMonitor(stop_callback=stop)
    cfg = _config(tmp_path, gridsize=2, nepochs=50)
    ae0, d2o0 = build_models(cfg.model, intensity_scale=31.25, probe=container.probe, seed=7)
    result = train_models(container, cfg, PyTorchExecutionConfig(**FAST), monitor=monitor)
    assert not result.completed
    assert result.batches_run == 2 and result.epochs_run == 0 and monitor.epochs == []
    x, pos = container.X[:4], container.coords_nominal[:4]
    obj = predict_objects(result.diffraction_to_obj, x, pos, result.intensity_scale, batch_size=3)
    assert obj.shape == (4, 64, 64, 1) and obj.dtype == np.complex64 and np.all(np.isfinite(obj))
    # The two optimiser steps changed the weights (same seed → same initial weights).
    first = dict(ae0.named_parameters())["core.generator.encoder.0.conv0.weight"]
    trained = dict(result.autoencoder.named_parameters())["core.generator.encoder.0.conv0.weight"]
    assert not torch.equal(first.detach(), trained.detach())


def test_seeded_training_is_reproducible_and_supports_accumulation_and_clipping(container_factory, tmp_path):
    container = container_factory(gridsize=1, n_groups=16)
    exe = PyTorchExecutionConfig(accum_steps=2, gradient_clip_val=1.0, scheduler="Exponential", **FAST)
    a = train_models(container, _config(tmp_path, nepochs=2), exe)
    b = train_models(container, _config(tmp_path, nepochs=2), exe)
    assert a.history["loss"] == b.history["loss"]
    assert a.history["learning_rate"] == pytest.approx([1e-3, 0.95e-3])
    for (name, p), q in zip(a.autoencoder.named_parameters(), b.autoencoder.parameters()):
        assert torch.equal(p, q), name


def test_supervised_training_and_its_requirements(container_factory, tmp_path):
    container = container_factory(gridsize=1, n_groups=12)
    cfg = _config(tmp_path, nepochs=1, model={"model_type": "supervised"})
    result = train_models(container, cfg, PyTorchExecutionConfig(**FAST))
    assert result.epochs_run == 1 and {"amp_loss", "phase_loss", "val_loss"} <= set(result.history)
    assert result.intensity_scale_trained == result.intensity_scale and result.probe is not None
    with pytest.raises(ValueError, match="ground-truth"):
        train_models(container_factory(gridsize=1, n_groups=20, with_truth=False), cfg, PyTorchExecutionConfig(**FAST))
    with pytest.raises(ValueError, match="channels per group"):
        train_models(container_factory(gridsize=2, n_groups=20), _config(tmp_path), PyTorchExecutionConfig(**FAST))


def test_realspace_loss_and_trainable_probe_train_end_to_end(container_factory, tmp_path):
    container = container_factory(gridsize=2, n_groups=16)
    cfg = _config(tmp_path, gridsize=2, nepochs=1, realspace_weight=0.5, realspace_mae_weight=1.0, tv_weight=1e-3,
                  probe_trainable=True, intensity_scale_trainable=False)
    result = train_models(container, cfg, PyTorchExecutionConfig(**FAST))
    hist = result.history
    assert hist["trimmed_obj_loss"][0] > 0 and math.isfinite(hist["val_trimmed_obj_loss"][0])
    assert result.intensity_scale_trained == pytest.approx(result.intensity_scale, rel=1e-6)  # w frozen
    probe_now = result.autoencoder.core.illumination.probe()
    assert not np.array_equal(probe_now, result.probe)  # the probe received gradients
    with pytest.raises(ValueError, match="ground-truth"):
        train_models(container_factory(gridsize=2, n_groups=16, with_truth=False), cfg, PyTorchExecutionConfig(**FAST))


def test_callbacks_follow_the_execution_config(tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from ptychopinn_plugin.backends.torch.execution import build_callbacks

    exe = PyTorchExecutionConfig(early_stop_patience=4, checkpoint_save_top_k=2, checkpoint_mode="min")
    early, checkpoint = build_callbacks(exe, tmp_path, has_validation=True)
    assert isinstance(early, EarlyStopping) and early.monitor == "train_loss" and early.patience == 4
    assert early.min_delta == 0 and early._check_on_train_epoch_end
    assert isinstance(checkpoint, ModelCheckpoint) and checkpoint.monitor == "val_loss"
    assert checkpoint.save_top_k == 2 and checkpoint.dirpath == str(tmp_path / "checkpoints")
    _, fallback = build_callbacks(exe, tmp_path, has_validation=False)
    assert fallback.monitor == "train_loss"
    assert len(build_callbacks(PyTorchExecutionConfig(enable_checkpointing=False), tmp_path, has_validation=True)) == 1


def test_predict_objects_matches_forward_and_checks_channels(container_factory):
    container = container_factory(gridsize=2, n_groups=7)
    cfg = ModelConfig(N=64, gridsize=2, n_filters_scale=1)
    _, d2o = build_models(cfg, intensity_scale=5.0, probe=container.probe, seed=1)
    x, pos = container.X, container.coords_nominal
    out = predict_objects(d2o, x.astype(np.float64), pos.astype(np.float64), 5.0, batch_size=3)
    with torch.no_grad():
        direct = d2o(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(pos).permute(0, 3, 1, 2),
                     torch.full((7,), 5.0))
    # batch size changes the convolution's summation order: equal to float32 rounding
    expected = direct.numpy().transpose(0, 2, 3, 1)
    assert np.max(np.abs(out - expected)) <= 1e-5 * np.max(np.abs(expected))
    with pytest.raises(ValueError, match="model was trained with gridsize=2 \\(4 channels\\) but the input has 1 "
                                         "channels; set gridsize to 2"):
        predict_objects(d2o, x[..., :1], pos[..., :1], 5.0)


def test_state_dict_round_trip_is_exact_and_strict(tmp_path):
    cfg = ModelConfig(N=64, gridsize=2, n_filters_scale=1)
    probe = (np.ones((64, 64)) * (0.5 + 0.25j)).astype(np.complex64)
    ae, d2o = build_models(cfg, intensity_scale=3.0, probe=probe, seed=1)
    with torch.no_grad():
        ae.core.scaler.log_scale += 0.25
    path = save_state_dict(d2o, tmp_path / "model.pt")
    fresh_ae, fresh = build_models(cfg, intensity_scale=9.0, probe=np.ones((64, 64), np.complex64), seed=2)
    load_state_dict(path, fresh)
    for (name, value), other in zip(d2o.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(value, other), name
    x, pos = torch.rand(2, 4, 64, 64), torch.rand(2, 4, 1, 2)
    with torch.no_grad():
        assert torch.equal(d2o(x, pos), fresh(x, pos))
    other_cfg = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    _, mismatched = build_models(other_cfg, intensity_scale=3.0, probe=probe)
    with pytest.raises(ValueError, match="does not match"):
        load_state_dict(path, mismatched)


def test_logger_choices_and_accelerator_resolution(tmp_path, caplog, monkeypatch):
    from ptychopinn_plugin.backends.torch.execution import build_logger, resolve_accelerator

    assert build_logger(PyTorchExecutionConfig(logger_backend=None), tmp_path) is False
    csv = build_logger(PyTorchExecutionConfig(), tmp_path)
    assert type(csv).__name__ == "CSVLogger" and str(tmp_path / "lightning_logs") in str(csv.log_dir)
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        with pytest.raises(RuntimeError, match="'tensorboard' package"):
            build_logger(PyTorchExecutionConfig(logger_backend="tensorboard"), tmp_path)
    if importlib.util.find_spec("mlflow") is not None:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow_logger = build_logger(
            PyTorchExecutionConfig(logger_backend="mlflow", mlflow_tracking_uri=(tmp_path / "mlruns").as_uri()),
            tmp_path,
        )
        assert type(mlflow_logger).__name__ == "MLFlowLogger"
    else:
        with pytest.raises(RuntimeError, match="ptychopinn\\[mlflow\\]"):
            build_logger(PyTorchExecutionConfig(logger_backend="mlflow"), tmp_path)
    with caplog.at_level(logging.WARNING):
        resolved = resolve_accelerator("auto")
    if torch.cuda.is_available():
        assert resolved == "cuda"
    else:
        assert resolved == "cpu" and "no CUDA device" in caplog.text
    assert resolve_accelerator("cpu") == "cpu"


def test_schedules_follow_the_spec():
    from ptychopinn_plugin.backends.torch.schedules import build_scheduler, warmup_cosine_factor

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1e-3)
    plateau = build_scheduler(opt, PyTorchExecutionConfig(), nepochs=10)
    assert plateau["monitor"] == "val_loss"
    sched = plateau["scheduler"]
    # Keras patience=2, min_delta=1e-4 (absolute): halve after 2 consecutive epochs without
    # an improvement larger than 1e-4; an improvement of only 5e-5 counts as none.
    lrs = []
    for value in [1.0, 0.99995, 0.99994, 0.5, 0.5, 0.5, 0.5, 0.5]:
        sched.step(value)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4])
    for _ in range(6):
        sched.step(0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)  # min_lr
    assert build_scheduler(opt, PyTorchExecutionConfig(scheduler="Default"), nepochs=10) is None
    assert warmup_cosine_factor(0, warmup_epochs=2, total_epochs=10, min_ratio=0.1) == pytest.approx(1 / 3)
    assert warmup_cosine_factor(2, warmup_epochs=2, total_epochs=10, min_ratio=0.1) == pytest.approx(1.0)
    assert warmup_cosine_factor(10, warmup_epochs=2, total_epochs=10, min_ratio=0.1) == pytest.approx(0.1)
