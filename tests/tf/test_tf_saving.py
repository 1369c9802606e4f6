"""Save/load of the Keras models (api spec §7.4/§7.5 item 6) and batched inference (§3)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf import (  # noqa: E402
    build_models,
    custom_objects,
    load_keras_model,
    model_probe,
    named_weights,
    predict_objects,
    save_keras_model,
    trained_intensity_scale,
    verify_model_shapes,
)
from ptychopinn_plugin.config import ModelConfig  # noqa: E402
from ptychopinn_plugin.physics import default_probe, normalise_probe  # noqa: E402

N = 64


def _inputs(b, c, seed=0):
    rng = np.random.default_rng(seed)
    x = (30 * rng.random((b, N, N, c))).astype(np.float32)
    r = rng.uniform(-2, 2, size=(b, 1, 2, c)).astype(np.float32)
    return x, r - r.mean(axis=3, keepdims=True)


@pytest.mark.parametrize("gridsize,kw", [(1, {}), (2, {"gaussian_smoothing_sigma": 0.5, "probe_mask": True})])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, gridsize, kw):
    cfg = ModelConfig(N=N, gridsize=gridsize, n_filters_scale=1, **kw)
    probe = normalise_probe(default_probe(N).astype(np.complex64) * np.exp(0.2j))
    ae, d2o = build_models(cfg, intensity_scale=7.0, probe=probe, probe_trainable=True, seed=4)
    ae.get_layer("intensity_scaler").log_scale.assign(np.log(7.0) + 0.1)  # a "trained" w
    paths = save_keras_model(ae, tmp_path / "autoencoder" / "model.keras"), save_keras_model(
        d2o, tmp_path / "diffraction_to_obj" / "model.keras"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["autoencoder", "diffraction_to_obj", "model.keras", "model.keras"]
    ae2, d2o2 = (load_keras_model(p) for p in paths)
    x, r = _inputs(3, gridsize * gridsize)
    for before, after in zip(ae.predict_on_batch([x, r]), ae2.predict_on_batch([x, r])):
        np.testing.assert_allclose(after, before, rtol=1e-6, atol=0)
    np.testing.assert_allclose(d2o2.predict_on_batch([x, r]), d2o.predict_on_batch([x, r]), rtol=1e-6, atol=0)
    w_before, w_after = named_weights(ae), named_weights(ae2)
    assert list(w_before) == list(w_after)
    for key in w_before:
        np.testing.assert_array_equal(w_after[key], w_before[key])
    assert ae2.output_names == ["trimmed_obj", "pred_amp_scaled", "pred_intensity"]
    assert [t.name for t in d2o2.inputs] == ["input", "input_positions"]
    verify_model_shapes(d2o2, N, gridsize)
    verify_model_shapes(ae2, N, gridsize)
    with pytest.raises(ValueError, match="gridsize = 3"):
        verify_model_shapes(d2o2, N, 3)
    with pytest.raises(ValueError, match="N = 128"):
        verify_model_shapes(d2o2, 128, gridsize)
    assert trained_intensity_scale(ae2) == pytest.approx(7.0 * np.exp(0.1), rel=1e-6)
    np.testing.assert_array_equal(model_probe(ae2), probe)
    assert {v.path for v in ae2.trainable_weights} == {v.path for v in ae.trainable_weights}
    probe_cfg = ae2.get_layer("probe_illumination").get_config()
    assert probe_cfg["probe_mask"] == cfg.probe_mask and probe_cfg["gaussian_smoothing_sigma"] == cfg.gaussian_smoothing_sigma


def test_supervised_round_trip(tmp_path):
    ae, d2o = build_models(ModelConfig(N=N, n_filters_scale=1, model_type="supervised"), intensity_scale=3.0, seed=0)
    path = save_keras_model(d2o, tmp_path / "model.keras")
    loaded = load_keras_model(path)
    x, r = _inputs(2, 1)
    np.testing.assert_allclose(loaded.predict_on_batch([x, r]), d2o.predict_on_batch([x, r]), rtol=1e-6, atol=0)


def test_loading_is_safe_mode_only(tmp_path):
    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda t: t * 2)(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(ValueError, match="(?i)unsafe|lambda|safe_mode"):
        load_keras_model(path)
    with pytest.raises(FileNotFoundError):
        load_keras_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match=".keras"):
        save_keras_model(keras.Model(inp, out), tmp_path / "model.h5")


def test_custom_objects_are_only_our_layers():
    objects = custom_objects()
    assert objects
    for name, cls in objects.items():
        assert cls.__module__.startswith("ptychopinn_plugin.backends.tf."), name
        assert issubclass(cls, keras.layers.Layer)
    assert objects["ptychopinn>ObjectAssembly"] is objects["ObjectAssembly"]


def test_predict_objects_batches_casts_and_checks_channels():
    probe = normalise_probe(default_probe(N).astype(np.complex64))
    _, d2o = build_models(ModelConfig(N=N, gridsize=2, n_filters_scale=1), intensity_scale=2.0, probe=probe, seed=1)
    x, r = _inputs(5, 4, seed=3)
    x_norm = (x / 2.0).astype(np.float64)
    out = predict_objects(d2o, x_norm, r.astype(np.float64), 2.0, batch_size=2)
    assert out.shape == (5, N, N, 1) and out.dtype == np.complex64
    ref = d2o.predict_on_batch([np.float32(2.0) * x_norm.astype(np.float32), r])
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError) as info:
        predict_objects(d2o, x_norm[..., :1], r[..., :1], 2.0)
    assert str(info.value) == (
        "model was trained with gridsize=2 (4 channels) but the input has 1 channels; set gridsize to 2"
    )
