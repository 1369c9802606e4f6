"""PyTorchExecutionConfig honoured by training: loggers, checkpoint fallback, sharding, helpers."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.datamodule import EpochBatchSampler
from ptychopinn_plugin.backends.torch.execution import build_callbacks, inference_batch_size
from ptychopinn_plugin.backends.torch.models import build_models
from ptychopinn_plugin.backends.torch.predict import predict_outputs
from ptychopinn_plugin.backends.torch.training import train_models
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig


def _config(tmp_path, nepochs=1):
    return TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), nepochs=nepochs, batch_size=8,
                          nphotons=1e6, seed=2, output_dir=tmp_path / "out", backend="pytorch")


def test_loggers_csv_none_and_missing_tensorboard(container_factory, tmp_path, monkeypatch):
    container = container_factory(gridsize=1, n_groups=10)
    out = tmp_path / "out"
    train_models(container, _config(tmp_path), PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False,
                                                                      logger_backend="none"))
    assert not (out / "lightning_logs").exists() and not (tmp_path / "lightning_logs").exists()

    train_models(container, _config(tmp_path), PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False))
    metrics = list((out / "lightning_logs").glob("version_*/metrics.csv"))
    assert len(metrics) == 1
    header = metrics[0].read_text().splitlines()[0].split(",")
    assert {"train_loss", "val_loss", "epoch"} <= set(header)

    # tensorboard absent (whatever is installed here): a RuntimeError naming package and extra, no fallback
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(RuntimeError, match=r"'tensorboard' package.*ptychopinn\[tensorboard\]"):
        train_models(container, _config(tmp_path), PyTorchExecutionConfig(accelerator="cpu", logger_backend="tensorboard"))


def test_checkpoints_fall_back_to_train_loss_without_validation(container_factory, tmp_path, caplog):
    container = container_factory(gridsize=1, n_groups=10)
    exe = PyTorchExecutionConfig(accelerator="cpu", logger_backend="none", checkpoint_monitor_metric="val_loss",
                                 checkpoint_save_top_k=1)
    with caplog.at_level(logging.WARNING):
        result = train_models(container, _config(tmp_path, nepochs=2), exe, validation=False)
    assert "checkpoints monitor 'train_loss' instead of 'val_loss'" in caplog.text
    assert result.epochs_run == 2 and "val_loss" not in result.history
    checkpoints = list((tmp_path / "out" / "checkpoints").glob("*.ckpt"))
    assert len(checkpoints) == 1  # top_k = 1 ranked by train_loss
    state = torch.load(checkpoints[0], map_location="cpu", weights_only=True)
    callback = next(v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert callback["monitor"] == "train_loss"
    assert callback["best_model_score"] == pytest.approx(min(result.history["train_loss"]), rel=1e-6)
    early, checkpoint = build_callbacks(PyTorchExecutionConfig(early_stop_monitor="val_loss"), tmp_path,
                                        has_validation=False)
    assert early.monitor == "train_loss" and checkpoint.monitor == "train_loss"
    early, checkpoint = build_callbacks(PyTorchExecutionConfig(early_stop_monitor="val_loss"), tmp_path,
                                        has_validation=True)
    assert early.monitor == "val_loss" and checkpoint.monitor == "val_loss"


def test_epoch_batch_sampler_shards_one_permutation_over_ranks():
    def batches(rank, world, epoch, shuffle=True):
        sampler = EpochBatchSampler(11, 2, shuffle=shuffle, seed=5, rank=rank, world_size=world)
        sampler.set_epoch(epoch)
        out = list(sampler)
        assert len(out) == len(sampler)
        return out

    shards = [sum(batches(r, 3, epoch=0), []) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]  # 11 padded to 12 by wrapping around
    assert sorted(set(sum(shards, []))) == list(range(11))
    single = sum(batches(0, 1, epoch=0), [])
    assert sorted(single) == list(range(11)) and single != list(range(11))
    assert [x for i in range(4) for x in (shards[0][i], shards[1][i], shards[2][i])][:11] == single
    assert sum(batches(0, 1, epoch=1), []) != single  # a new permutation every epoch
    assert sum(batches(0, 1, epoch=0, shuffle=False), []) == list(range(11))


def test_per_sample_probe_replaces_the_model_probe():
    cfg = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    p1 = np.full((64, 64), 0.5 + 0.0j, dtype=np.complex64)
    p2 = (np.full((64, 64), 0.2 + 0.3j)).astype(np.complex64)
    ae1, _ = build_models(cfg, intensity_scale=3.0, probe=p1, seed=0)
    ae2, _ = build_models(cfg, intensity_scale=3.0, probe=p2, seed=0)
    x, pos = torch.rand(2, 1, 64, 64), torch.zeros(2, 1, 1, 2)
    per_sample = torch.from_numpy(np.stack([p2, p1]))[:, None]
    with torch.no_grad():
        mixed = ae1(x, pos, None, probe=per_sample)
        own1, own2 = ae1(x, pos), ae2(x, pos)
    torch.testing.assert_close(mixed[2][0], own2[2][0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mixed[2][1], own1[2][1], rtol=1e-6, atol=1e-6)
    assert not torch.allclose(own1[2][0], own2[2][0])
    with pytest.raises(ValueError, match="per-sample probe must have shape"):
        ae1(x, pos, None, probe=per_sample[:1])


def test_predict_outputs_and_inference_batch_size():
    cfg = ModelConfig(N=64, gridsize=2, n_filters_scale=1)
    ae, _ = build_models(cfg, intensity_scale=4.0, probe=np.full((64, 64), 0.5, np.complex64), seed=1)
    x = np.random.default_rng(0).random((2, 64, 64, 4), dtype=np.float32)
    pos = np.random.default_rng(1).normal(size=(2, 1, 2, 4)).astype(np.float32)
    obj, amp, inten = predict_outputs(ae, x, pos, 4.0, batch_size=1)
    with torch.no_grad():
        ref = ae(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(pos).permute(0, 3, 1, 2), torch.tensor(4.0))
    assert obj.shape == (2, 64, 64, 1) and amp.shape == inten.shape == (2, 64, 64, 4)
    for mine, theirs in zip((obj, amp, inten), ref):
        expected = theirs.numpy().transpose(0, 2, 3, 1)
        assert np.max(np.abs(mine - expected)) <= 1e-5 * np.max(np.abs(expected))
    np.testing.assert_allclose(inten, amp * amp, rtol=1e-6)
    assert inference_batch_size(None, 16) == 16
    assert inference_batch_size(PyTorchExecutionConfig(inference_batch_size=64), 16) == 64
    assert inference_batch_size(PyTorchExecutionConfig(), 8) == 8


def test_tensorboard_logger_writes_epoch_losses(container_factory, tmp_path):
    """The 'tensorboard' extra (in ``all``) is installed: training writes an event file
    whose scalars include the per-epoch training and validation losses."""
    pytest.importorskip("tensorboard", reason="the 'tensorboard' extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    container = container_factory(gridsize=1, n_groups=10)
    result = train_models(container, _config(tmp_path, nepochs=2),
                          PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False,
                                                 logger_backend="tensorboard"))
    events = list((tmp_path / "out" / "lightning_logs").glob("version_*/events.out.tfevents.*"))
    assert len(events) == 1
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert {"train_loss", "val_loss"} <= tags, tags
    logged = [event.value for event in accumulator.Scalars("train_loss")]
    assert len(logged) == 2
    assert np.allclose(logged, result.history["loss"], rtol=1e-5)
