"""Distributed training: two CPU processes over gloo with ``strategy='ddp_spawn'`` (api spec §2.6).

The spawned ranks train copies of the models; the weights and the run record (history,
batches, stop flag) must come back to this process, and the result must archive and
reload like any other model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptychopinn_plugin.archive import load_archive, save_archive
from ptychopinn_plugin.backends.torch.archive_codec import TorchPayloadCodec
from ptychopinn_plugin.backends.torch.models import build_models, model_probe
from ptychopinn_plugin.backends.torch.predict import predict_objects
from ptychopinn_plugin.backends.torch.training import train_models
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig
from ptychopinn_plugin.util.progress import CallbackMonitor

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is required")


def test_ddp_spawn_two_cpu_processes_returns_trained_models_and_history(container_factory, tmp_path):
    container = container_factory(gridsize=1, n_groups=18)
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), nepochs=2, batch_size=4,
                         nphotons=1e6, seed=11, output_dir=tmp_path / "out", backend="pytorch")
    exe = PyTorchExecutionConfig(accelerator="cpu", strategy="ddp_spawn", devices=2, logger_backend="none",
                                 enable_checkpointing=False)
    monitor = CallbackMonitor()
    result = train_models(container, cfg, exe, monitor=monitor)

    assert result.completed and result.epochs_run == 2
    assert len(result.history["loss"]) == 2 and len(result.history["val_loss"]) == 2
    assert all(np.isfinite(v) for v in result.history["loss"] + result.history["val_loss"])
    # 17 training groups → 9 per rank (padded) → 3 batches of ≤ 4 per epoch on rank 0
    assert result.batches_run == 2 * 3
    assert [epoch for epoch, _ in monitor.epochs] == [0, 1]  # replayed in this process after training
    assert monitor.epochs[1][1]["loss"] == result.history["loss"][1]

    # The weights in this process are the trained ones (the seed fixes the initial weights).
    initial, _ = build_models(cfg.model, intensity_scale=result.intensity_scale, probe=result.probe, seed=11)
    start = dict(initial.named_parameters())
    changed = [name for name, p in result.autoencoder.named_parameters() if not torch.equal(p, start[name])]
    assert "core.generator.encoder.0.conv0.weight" in changed

    path = save_archive(
        tmp_path / "wts.h5.zip", models={"autoencoder": result.autoencoder, "diffraction_to_obj": result.diffraction_to_obj},
        codec=TorchPayloadCodec(), model_config=cfg.model, training_config=cfg, intensity_scale=result.intensity_scale,
        intensity_scale_trained=result.intensity_scale_trained, probe=model_probe(result.autoencoder),
        history=result.history,
    )
    loaded = load_archive(path, TorchPayloadCodec(), expected_backend="pytorch")
    x, pos = container.X[:2], container.coords_nominal[:2]
    np.testing.assert_array_equal(
        predict_objects(loaded.models["diffraction_to_obj"], x, pos, loaded.intensity_scale, batch_size=2),
        predict_objects(result.diffraction_to_obj, x, pos, result.intensity_scale, batch_size=2),
    )
    assert loaded.history["loss"] == pytest.approx(result.history["loss"])
