"""Generator architecture (physics §4): exact parameter counts, init, seeding, activations."""

import math

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf.models import (  # noqa: E402
    build_models,
    named_weights,
    network_parameter_count,
    trainable_parameter_count,
)
from ptychopinn_plugin.backends.tf.network import filter_ladder  # noqa: E402
from ptychopinn_plugin.config import ModelConfig  # noqa: E402
from ptychopinn_plugin.physics import default_probe, normalise_probe  # noqa: E402


def _probe(n):
    return normalise_probe(default_probe(n).astype(np.complex64))


def _build(n=64, g=1, seed=0, probe_trainable=False, scale_trainable=True, **kw):
    cfg = ModelConfig(N=n, gridsize=g, **kw)
    return build_models(
        cfg, intensity_scale=2.0, probe=_probe(n), probe_trainable=probe_trainable,
        intensity_scale_trainable=scale_trainable, seed=seed,
    )


@pytest.mark.parametrize(
    "n,g,kw,expected",
    [
        (64, 1, {}, 2_331_772),
        (64, 2, {}, 2_340_208),
        (128, 1, {}, 4_661_212),
        (128, 2, {}, 4_667_056),
        (256, 1, {}, 12_912_268),
        (64, 1, {"probe_big": False}, 2_252_026),
        (64, 1, {"pad_object": False}, 2_399_810),
    ],
)
def test_trainable_parameter_counts_match_spec(n, g, kw, expected):
    autoencoder, d2o = _build(n, g, **kw)
    assert network_parameter_count(autoencoder) == expected
    # only w is trainable besides the network (probe not trainable by default)
    assert trainable_parameter_count(autoencoder) == expected + 1
    assert network_parameter_count(d2o) == expected  # shares the whole generator


def test_trainable_flags_for_w_and_probe():
    ae, _ = _build(probe_trainable=True, scale_trainable=False, n_filters_scale=1)
    names = {v.path for v in ae.trainable_weights}
    assert "intensity_scaler/log_scale" not in names
    assert {"probe_illumination/probe_real", "probe_illumination/probe_imag"} <= names
    ae, _ = _build(probe_trainable=False, scale_trainable=True, n_filters_scale=1)
    names = {v.path for v in ae.trainable_weights}
    assert "intensity_scaler/log_scale" in names
    assert not any(name.startswith("probe_illumination") for name in names)


def test_filter_ladders_and_unsupported_n():
    assert filter_ladder(64, 2) == ([64, 128, 256], [128, 64], 64)
    assert filter_ladder(128, 1) == ([16, 32, 64, 128], [128, 64, 32], 16)
    assert filter_ladder(256, 2) == ([16, 32, 64, 128, 256], [512, 256, 128, 64], 16)
    with pytest.raises(ValueError, match="N = 96"):
        filter_ladder(96, 2)


def test_glorot_uniform_kernels_zero_biases_and_seeding():
    ae, _ = _build(seed=123, n_filters_scale=1)
    weights = named_weights(ae)
    for key, value in weights.items():
        if key.endswith("/kernel"):
            kh, kw_, cin, cout = value.shape
            limit = math.sqrt(6.0 / (kh * kw_ * cin + kh * kw_ * cout))
            assert np.max(np.abs(value)) <= limit
            if value.size > 5000:  # uniform: std = limit/sqrt(3)
                assert np.std(value) == pytest.approx(limit / math.sqrt(3), rel=0.05)
        elif key.endswith("/bias"):
            assert np.all(value == 0)
    again = named_weights(_build(seed=123, n_filters_scale=1)[0])
    other = named_weights(_build(seed=124, n_filters_scale=1)[0])
    assert list(again) == list(weights)
    for key in weights:
        np.testing.assert_array_equal(weights[key], again[key])
    kernel = "encoder_block1_conv0/kernel"
    assert not np.array_equal(weights[kernel], other[kernel])
    # distinct layers get distinct seeds
    assert not np.array_equal(weights["amp_block0_conv1/kernel"], weights["phase_block0_conv1/kernel"])
    assert weights["intensity_scaler/log_scale"] == pytest.approx(math.log(2.0))


@pytest.mark.parametrize("activation", ["sigmoid", "swish", "softplus", "relu"])
def test_amplitude_activations_and_output_structure(activation):
    n = 64
    ae, d2o = _build(n, 2, n_filters_scale=1, amp_activation=activation, probe_big=False)
    x = np.random.default_rng(0).random((2, n, n, 4)).astype(np.float32)
    pos = np.random.default_rng(1).normal(size=(2, 1, 2, 4)).astype(np.float32)
    obj, amp, inten = ae.predict_on_batch([x, pos])
    assert ae.output_names == ["trimmed_obj", "pred_amp_scaled", "pred_intensity"]
    assert [t.name for t in ae.inputs] == ["input", "input_positions"]
    assert obj.shape == (2, n, n, 1) and obj.dtype == np.complex64
    assert amp.shape == (2, n, n, 4) and amp.dtype == np.float32
    np.testing.assert_allclose(inten, amp**2, rtol=1e-6)
    np.testing.assert_array_equal(d2o.predict_on_batch([x, pos]), obj)
    # Activation ranges on the raw branch outputs (before the merge)
    probe_model = keras.Model(ae.inputs, [ae.get_layer("amp_object_act").output, ae.get_layer("phase_object_act").output])
    a, p = probe_model.predict_on_batch([x, pos])
    assert np.all(np.abs(p) <= np.pi)
    if activation in ("sigmoid",):
        assert np.all((a > 0) & (a < 1))
    if activation in ("softplus",):
        assert np.all(a > 0)
    if activation == "relu":
        assert np.all(a >= 0)
    # pad_object: the object is confined to the central window when probe_big is False
    patches = keras.Model(ae.inputs, ae.get_layer("object_patches").output).predict_on_batch([x, pos])
    outside = np.ones((n, n), bool)
    outside[n // 4 : 3 * n // 4, n // 4 : 3 * n // 4] = False
    assert np.all(patches[:, outside, :] == 0)


def test_probe_big_border_branch_fills_only_the_border():
    n = 64
    ae, _ = _build(n, 1, n_filters_scale=1)
    x = np.random.default_rng(0).random((2, n, n, 1)).astype(np.float32)
    pos = np.zeros((2, 1, 2, 1), np.float32)
    border = keras.Model(ae.inputs, ae.get_layer("amp_border_mask").output).predict_on_batch([x, pos])
    assert np.all(border[:, n // 4 : 3 * n // 4, n // 4 : 3 * n // 4] == 0)
    assert np.any(border != 0)


def test_canvas_margin_must_be_even():
    with pytest.raises(ValueError, match="even"):
        _build(64, 2, offset=3, n_filters_scale=1)
