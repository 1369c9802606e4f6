"""Synthetic pretraining (issue #11 item 3): a training option of the library, the CLI, the
app and our Ptychodus library, with progress and cancel like any training."""

from __future__ import annotations

import contextlib
import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("torch")

from ptychopinn_plugin.config import ModelConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.util.progress import CallbackMonitor  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_session(clean_model_session):
    yield


def _container(tiny_dataset_dir, config):
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data

    return create_ptycho_data_container(load_data(tiny_dataset_dir / "train_data.npz"), config)


def _losses(core, batch, scale: float, headroom: float) -> tuple[float, float]:
    """(supervised loss as pretraining computes it, amplitude MAE of the model's own forward
    model against the batch's patterns) on one synthetic batch."""
    import torch

    from ptychopinn_plugin.backends.torch.container import positions_channels_first, to_channels_first
    from ptychopinn_plugin.backends.torch.losses import amplitude_mae
    from ptychopinn_plugin.backends.torch.pretrain import probe_weight, supervised_patch_loss

    x = to_channels_first(batch.X)
    positions = positions_channels_first(batch.coords_relative)
    with torch.no_grad():
        supervised = supervised_patch_loss(core, x, positions, scale, to_channels_first(batch.Y) / headroom,
                                           probe_weight(core), contextlib.nullcontext)
        _, amplitude, _ = core(x, positions, scale)
        physics = amplitude_mae(x * scale, amplitude)
    return float(supervised), float(physics)


def test_pretraining_learns_the_synthetic_objects_in_the_physics_gauge(tiny_dataset_dir):
    """Held-out synthetic groups: the supervised loss falls, and so does the model's own
    physics loss — the regression test of the collapse at the switch to the measured data
    (the raw generator output used to be supervised; the ×1000 border of the canvas merge
    then put the physics loss 40-800× above its noise level)."""
    from ptychopinn_plugin.backends.torch.models import PINNCore
    from ptychopinn_plugin.backends.torch.pretrain import pretrain_on_synthetic_groups
    from ptychopinn_plugin.physics.probe import normalise_probe
    from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream

    config = TrainingConfig(model=ModelConfig(N=64, n_filters_scale=1), nphotons=1e6, backend="pytorch")
    container = _container(tiny_dataset_dir, config)
    scale = float(np.sqrt(1e6) / 32)
    core = PINNCore(config.model, intensity_scale=scale, probe=normalise_probe(container.probe, 1.0), seed=1)
    held_out = SyntheticGroupStream(container.probe, container.coords_nominal, nphotons=1e6, seed=99,
                                    gauge_probe=core.illumination.probe()).next_batch(32)
    progress: list[tuple[int, int, float]] = []
    monitor = CallbackMonitor()
    monitor.on_pretrain_progress = lambda step, steps, loss: progress.append((step, steps, loss))
    result = pretrain_on_synthetic_groups(
        core, probe=container.probe, relative_offsets=container.coords_nominal, nphotons=1e6, intensity_scale=scale,
        steps=60, batch_size=16, learning_rate=1e-3, precision="32-true", seed=3, monitor=monitor)
    assert result.gauge_headroom >= 1.0
    assert core.scaler.scale() == pytest.approx(scale * result.gauge_headroom, rel=0.05)
    supervised_after, physics_after = _losses(core, held_out, scale, result.gauge_headroom)
    fresh = PINNCore(config.model, intensity_scale=scale * result.gauge_headroom,
                     probe=normalise_probe(container.probe, 1.0), seed=1)
    supervised_before, physics_before = _losses(fresh, held_out, scale, result.gauge_headroom)
    assert result.steps == 60 and not result.stopped and np.isfinite(result.final_loss)
    assert [p[0] for p in progress] == list(range(6, 61, 6)) and all(p[1] == 60 for p in progress)
    # Objects it has never seen, drawn from the same families.
    assert supervised_after < 0.7 * supervised_before, (supervised_before, supervised_after)
    assert physics_after < physics_before, (physics_before, physics_after)


def test_the_physics_gauge_target_reproduces_the_normalised_patterns():
    """``gauge_probe``: ``Y`` is scaled so that the exit waves carry the patterns' energy."""
    from ptychopinn_plugin.simulation.probe import make_probe
    from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream

    probe = make_probe(64)
    offsets = np.zeros((4, 1, 2, 1), np.float32)
    batch = SyntheticGroupStream(probe, offsets, nphotons=1e8, seed=1, object_size=128,
                                 gauge_probe=probe).next_batch(8)
    exit_energy = np.sum(np.abs(probe[None, :, :, None] * batch.Y) ** 2)
    assert exit_energy == pytest.approx(np.sum(batch.X.astype(np.float64) ** 2), rel=1e-4)


def test_stop_during_pretraining_keeps_the_pretrained_model_marked_incomplete(tiny_dataset_dir):
    from ptychopinn_plugin.backends.torch import train_models
    from ptychopinn_plugin.config import PyTorchExecutionConfig

    config = TrainingConfig(model=ModelConfig(N=64, n_filters_scale=1), nphotons=1e6, backend="pytorch",
                            pretrain_steps=50, nepochs=2, batch_size=16)
    polls = []
    monitor = CallbackMonitor(stop_callback=lambda: polls.append(1) or len(polls) >= 3)
    result = train_models(_container(tiny_dataset_dir, config), config,
                          PyTorchExecutionConfig(logger_backend="none", enable_checkpointing=False), monitor=monitor)
    assert result.completed is False and result.epochs_run == 0 and result.batches_run == 0
    assert len(polls) == 3 and monitor.epochs == []


@pytest.mark.slow
def test_cli_pretrains_then_trains_and_archives_the_setting(tiny_dataset_dir, tmp_path, capsys):
    from ptychopinn_plugin.cli.train import main as train

    out = tmp_path / "run"
    assert train(["--train_data_file", str(tiny_dataset_dir / "train_data.npz"), "--output_dir", str(out),
                  "--backend", "pytorch", "--n_filters_scale", "1", "--nepochs", "1", "--batch_size", "16",
                  "--nphotons", "1e6", "--pretrain_steps", "20"]) == 0
    err = capsys.readouterr().err
    assert "pretraining 20/20  loss" in err and "epoch 1/1" in err
    assert err.index("pretraining 20/20") < err.index("epoch 1/1")
    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        assert json.loads(zf.read("params.json"))["training_config"]["pretrain_steps"] == 20


@pytest.mark.parametrize("change, message", [
    ({"backend": "tensorflow"}, "needs backend 'pytorch'"),
    ({"model": ModelConfig(N=64, model_type="supervised")}, "PINN"),
    ({"model": ModelConfig(N=64, gridsize=2, object_big=False)}, "object_big = True"),
])
def test_unsupported_pretraining_settings_are_refused_before_training(change, message):
    from ptychopinn_plugin.workflows.training import check_workflow_config

    fields = {"model": ModelConfig(N=64), "backend": "pytorch", "pretrain_steps": 10, **change}
    with pytest.raises(ValueError, match=message):
        check_workflow_config(TrainingConfig(**fields))
    with pytest.raises(ValueError, match="pretrain_steps"):
        TrainingConfig(model=ModelConfig(N=64), pretrain_steps=-1)


def test_gauge_headroom_leaves_the_training_stream_as_seeded():
    """The headroom is estimated on a copy: the objects pretraining sees do not depend on it."""
    from ptychopinn_plugin.backends.torch.pretrain import AMPLITUDE_CEILING, gauge_headroom
    from ptychopinn_plugin.simulation.probe import make_probe
    from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream

    probe = make_probe(64)
    offsets = np.zeros((4, 1, 2, 1), np.float32)
    measured, untouched = (SyntheticGroupStream(probe, offsets, nphotons=1e8, seed=1, object_size=128,
                                                gauge_probe=probe) for _ in range(2))
    k = gauge_headroom(measured)
    assert k >= 1.0
    batch = measured.next_batch(8)
    np.testing.assert_array_equal(batch.X, untouched.next_batch(8).X)
    if k > 1.0:  # the targets divided by k reach the ceiling at the chosen quantile
        central = np.abs(batch.Y[:, 16:48, 16:48]) / k
        assert np.quantile(central, 0.5) < AMPLITUDE_CEILING
