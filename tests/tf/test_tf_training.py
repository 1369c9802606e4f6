"""Training (physics §7, §12.2): loss decreases, monitor/stop protocol, w/probe trainability,
streaming path with validation, supervised run."""

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf import (  # noqa: E402
    CallbackMonitor,
    TrainingArrays,
    build_models,
    model_probe,
    predict_objects,
    train_models,
)
from ptychopinn_plugin.backends.tf.data_views import center_ground_truth, make_dataset, validation_split  # noqa: E402
from ptychopinn_plugin.backends.tf.training import compile_models  # noqa: E402
from ptychopinn_plugin.config import ModelConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.data.container import PtychoDataContainer  # noqa: E402
from ptychopinn_plugin.physics import default_probe, far_field_amplitude, normalise_probe, probe_mask  # noqa: E402
from ptychopinn_plugin.util.bilinear import extract_patches, translate  # noqa: E402

N = 64


def _simulate(n_groups, gridsize=1, seed=0):
    """Tiny simulated dataset: smooth random object, default probe, noise-free far field."""
    rng = np.random.default_rng(seed)
    size = 160
    freq = np.fft.fftfreq(size)
    lowpass = np.exp(-(freq[:, None] ** 2 + freq[None, :] ** 2) / (2 * 0.03**2))
    smooth = lambda: np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(size, size))) * lowpass))  # noqa: E731
    a, p = smooth(), smooth()
    amp = 0.5 + 0.5 * (a - a.min()) / (a.max() - a.min())
    phase = 2 * (p - p.min()) / (p.max() - p.min()) - 1
    obj = (amp * np.exp(1j * phase)).astype(np.complex64)
    c = gridsize * gridsize
    centres = rng.uniform(N / 2 + 8, size - N / 2 - 8, size=(n_groups, 2))
    jitter = rng.uniform(-3, 3, size=(n_groups, c, 2)) if c > 1 else np.zeros((n_groups, 1, 2))
    members = centres[:, None, :] + jitter  # (B, C, 2) as (x, y)
    raw_probe = default_probe(N).astype(np.complex64)
    probe = normalise_probe(raw_probe)
    flat = members.reshape(-1, 2)
    patches = extract_patches(obj, flat[:, 0], flat[:, 1], N)
    amplitude = far_field_amplitude(patches * probe[None])
    diffraction = np.moveaxis(amplitude.reshape(n_groups, c, N, N), 1, 3)
    factor = np.sqrt((N / 2) ** 2 / np.mean(np.sum(diffraction.astype(np.float64) ** 2, axis=(1, 2))))
    X = (diffraction * factor).astype(np.float32)
    Y = np.moveaxis(patches.reshape(n_groups, c, N, N), 1, 3)
    coords_nn = np.moveaxis(members, 2, 1)[:, None]  # (B, 1, 2, C)
    offsets = coords_nn.mean(axis=3, keepdims=True)
    relative = -(coords_nn - offsets)
    return PtychoDataContainer(
        X=X, Y=Y, coords_nominal=relative, coords_true=relative, probe=raw_probe,
        nn_indices=np.arange(n_groups * c).reshape(n_groups, c), global_offsets=offsets,
        local_offsets=relative, nphotons=1e6,
    )


@pytest.fixture(scope="module")
def container():
    return _simulate(96)


def _config(**kw):
    model = kw.pop("model", None) or ModelConfig(N=N, n_filters_scale=1)
    return TrainingConfig(model=model, batch_size=16, nepochs=kw.pop("nepochs", 3), nphotons=1e6, seed=11, **kw)


@pytest.fixture(scope="module")
def graph_run(container):
    """The one graph-mode (production path) run: 3 epochs, 91 training groups, 6 batches each."""
    calls = []
    monitor = CallbackMonitor(epoch_callback=lambda e, n, logs: calls.append((e, n, dict(logs))))
    return train_models(container, _config(), monitor=monitor), calls


def test_validation_split_is_the_last_five_percent():
    assert validation_split(96) == (slice(0, 91), slice(91, 96))
    assert validation_split(512) == (slice(0, 486), slice(486, 512))
    assert validation_split(10) == (slice(0, 9), slice(9, 10))
    with pytest.raises(ValueError):
        validation_split(1)


def test_center_ground_truth_moves_channel_zero_to_the_group_centre():
    rng = np.random.default_rng(0)
    y = (rng.normal(size=(3, 16, 16, 4)) + 1j * rng.normal(size=(3, 16, 16, 4))).astype(np.complex64)
    coords = rng.uniform(-2, 2, size=(3, 1, 2, 4))
    out = center_ground_truth(y, coords)
    assert out.shape == (3, 16, 16, 1) and out.dtype == np.complex64
    np.testing.assert_allclose(out[..., 0], translate(y[..., 0], -coords[:, 0, :, 0]), rtol=1e-6, atol=1e-6)


def test_short_training_run_decreases_loss_and_reports_each_epoch(graph_run):
    result, calls = graph_run
    assert result.completed and result.epochs_run == 3 and result.batches_run == 18
    assert result.history["loss"][-1] < result.history["loss"][0]
    for key in ("loss", "train_loss", "val_loss", "pred_intensity_loss", "val_pred_intensity_loss",
                "pred_amp_scaled_loss", "trimmed_obj_loss", "learning_rate"):
        assert len(result.history[key]) == 3, key
    assert result.history["train_loss"] == result.history["loss"]
    assert result.intensity_scale == pytest.approx(math.sqrt(1e6) / (N / 2))
    assert result.intensity_scale_trained > 0
    # monitor protocol: once per epoch, with train and validation losses
    assert [c[0] for c in calls] == [0, 1, 2] and all(c[1] == 3 for c in calls)
    for _, _, logs in calls:
        assert {"loss", "train_loss", "val_loss"} <= set(logs)
        assert all(isinstance(v, float) for v in logs.values())
    assert [c[2]["loss"] for c in calls] == result.history["loss"]
    assert [c[2]["val_loss"] for c in calls] == result.history["val_loss"]


def test_trained_model_uses_the_normalised_container_probe(graph_run, container):
    result, _ = graph_run
    assert np.mean(np.abs(probe_mask(N) * result.probe)) == pytest.approx(1 / 4.0, rel=1e-5)
    np.testing.assert_allclose(result.probe, normalise_probe(container.probe, 4.0), rtol=1e-6)
    np.testing.assert_array_equal(model_probe(result.autoencoder), result.probe)
    obj = predict_objects(result.diffraction_to_obj, container.X[:5].astype(np.float64),
                          container.coords_nominal[:5], result.intensity_scale, batch_size=2)
    ref = result.diffraction_to_obj.predict_on_batch(
        [np.float32(result.intensity_scale) * container.X[:5], container.coords_nominal[:5]])
    np.testing.assert_allclose(obj, ref, rtol=1e-5, atol=1e-7)


def test_trained_compiled_models_save_and_load(graph_run, container, tmp_path):
    from ptychopinn_plugin.backends.tf import load_keras_model, save_keras_model

    result, _ = graph_run
    x = np.float32(result.intensity_scale) * container.X[:3]
    r = container.coords_nominal[:3]
    for model in (result.autoencoder, result.diffraction_to_obj):
        loaded = load_keras_model(save_keras_model(model, tmp_path / f"{model.name}.keras"))
        before = model.predict_on_batch([x, r])
        after = loaded.predict_on_batch([x, r])
        for a, b in zip(after if isinstance(after, list) else [after], before if isinstance(before, list) else [before]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


def test_should_stop_ends_training_within_one_batch_and_keeps_the_model(container):
    polls = []

    def stop_after_four():
        polls.append(1)
        return len(polls) >= 4

    monitor = CallbackMonitor(stop_callback=stop_after_four)
    small = container.subset(slice(0, 40))  # 38 training groups → 3 batches per epoch
    # streamed path (threshold below the group count): validation is still evaluated
    result = train_models(small, _config(nepochs=5), monitor=monitor, run_eagerly=True, stream_threshold=10)
    assert not result.completed
    assert result.batches_run == 4 and len(polls) == 4  # stopped right after batch 1 of epoch 2
    assert result.epochs_run == 1 and len(monitor.epochs) == 1
    assert "val_loss" in result.history and len(result.history["val_loss"]) == 1
    obj = predict_objects(result.diffraction_to_obj, container.X[:4], container.coords_nominal[:4],
                          result.intensity_scale, batch_size=2)
    assert obj.shape == (4, N, N, 1) and np.all(np.isfinite(obj))


@pytest.mark.parametrize("flag", [True, False])
def test_intensity_scale_and_probe_trainability(flag, container):
    cfg = _config(intensity_scale_trainable=flag, probe_trainable=flag)
    s = math.sqrt(cfg.nphotons) / (N / 2)
    probe = normalise_probe(container.probe)
    ae, _ = build_models(cfg.model, intensity_scale=s, probe=probe, probe_trainable=flag,
                         intensity_scale_trainable=flag, seed=1)
    compile_models(ae, cfg, has_ground_truth=True, run_eagerly=True)
    w0 = float(ae.get_layer("intensity_scaler").log_scale.numpy())
    assert w0 == pytest.approx(math.log(s), rel=1e-6)
    sx = np.float32(s) * container.X[:8]
    ae.train_on_batch([sx, container.coords_nominal[:8]], [np.zeros((8, N, N, 1), np.complex64), sx, sx * sx])
    w1 = float(ae.get_layer("intensity_scaler").log_scale.numpy())
    changed_probe = not np.array_equal(model_probe(ae), probe)
    assert (w1 != w0) is flag
    assert changed_probe is flag


@pytest.mark.parametrize("supervised", [False, True])
def test_streamed_batches_equal_in_memory_batches(container, supervised):
    arrays = TrainingArrays.from_container(container)
    kw = dict(batch_size=16, intensity_scale=2.5, shuffle=True, seed=3, supervised=supervised)
    memory = list(make_dataset(arrays, slice(0, 40), streaming=False, **kw))
    streamed = list(make_dataset(arrays, slice(0, 40), streaming=True, **kw))
    assert len(memory) == len(streamed) == 3
    for (xm, ym), (xs, ys) in zip(memory, streamed):
        order_m = np.argsort(xm[0].numpy()[:, 0, 0, 0])
        order_s = np.argsort(xs[0].numpy()[:, 0, 0, 0])
        for a, b in zip((*xm, *ym), (*xs, *ys)):
            np.testing.assert_array_equal(a.numpy()[order_m], b.numpy()[order_s])
    # targets: (Y_c, s·X, (s·X)²) with s·X the float32 product
    (x, coords), targets = memory[0]
    if not supervised:
        y_c, amp, inten = (t.numpy() for t in targets)
        np.testing.assert_array_equal(amp, x.numpy())
        np.testing.assert_array_equal(inten, x.numpy() ** 2)
        assert y_c.dtype == np.complex64 and y_c.shape == (16, N, N, 1)
    # epochs are reshuffled
    ds = make_dataset(arrays, slice(0, 40), streaming=False, **kw)
    first = [b[0][0].numpy()[:, 0, 0, 0] for b in ds]
    second = [b[0][0].numpy()[:, 0, 0, 0] for b in ds]
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_gridsize_two_and_supervised_runs():
    data = _simulate(20, gridsize=2, seed=3)
    cfg = _config(nepochs=1, model=ModelConfig(N=N, gridsize=2, n_filters_scale=1),
                  realspace_weight=0.1, realspace_mae_weight=1.0)
    result = train_models(data, cfg, run_eagerly=True)
    assert result.history["trimmed_obj_loss"][0] > 0 and np.isfinite(result.history["loss"][0])
    with pytest.raises(ValueError, match="channels"):
        train_models(data, _config(nepochs=1))  # gridsize 1 config vs 4-channel data

    sup = _config(nepochs=1, model=ModelConfig(N=N, n_filters_scale=1, model_type="supervised"))
    small = _simulate(20, seed=4)
    result = train_models(small, sup, run_eagerly=True)
    again = train_models(small, sup, run_eagerly=True)
    assert again.history == result.history  # seeded: identical run
    assert set(result.history) >= {"loss", "val_loss", "amp_loss", "phase_loss"}
    assert result.intensity_scale_trained == result.intensity_scale
    no_truth = TrainingArrays(X=small.X, coords=small.coords_nominal, Y=None, probe=small.probe)
    with pytest.raises(ValueError, match="ground-truth"):
        train_models(no_truth, sup)
    with pytest.raises(ValueError, match="realspace_mae_weight"):
        train_models(no_truth, _config(nepochs=1, realspace_weight=1.0, realspace_mae_weight=1.0))


def test_schedule_and_optimiser_settings():
    from ptychopinn_plugin.backends.tf.callbacks import schedule_callbacks
    from ptychopinn_plugin.backends.tf.training import make_optimizer

    plateau, early = schedule_callbacks()
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.factor, plateau.patience, plateau.min_lr, plateau.cooldown) == (
        "val_loss", 0.5, 2, 1e-4, 0)
    assert abs(plateau.min_delta) == pytest.approx(1e-4)
    assert isinstance(early, keras.callbacks.EarlyStopping)
    assert (early.monitor, early.patience, early.restore_best_weights) == ("loss", 3, False)
    assert early.min_delta == 0
    adam = make_optimizer()
    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adam.learning_rate) == pytest.approx(1e-3)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.9, 0.999, 1e-7)
