"""Torch model structure (physics §4, §9) and I/O (api spec §3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.models import (
    build_models,
    model_channels,
    model_probe,
    network_parameter_count,
    trained_intensity_scale,
)
from ptychopinn_plugin.backends.torch.network import Conv3x3
from ptychopinn_plugin.config import ModelConfig
from ptychopinn_plugin.physics.geometry import canvas_size
from ptychopinn_plugin.physics.pipeline import forward_reference
from ptychopinn_plugin.physics.probe import default_probe, normalise_probe


def _probe(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    raw = default_probe(n).astype(np.complex64) * np.exp(1j * rng.uniform(-0.5, 0.5, (n, n)))
    return normalise_probe(raw, 4.0)


@pytest.mark.parametrize(
    "N,gridsize,overrides,expected",
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
def test_trainable_parameter_counts_match_spec(N, gridsize, overrides, expected):
    cfg = ModelConfig(N=N, gridsize=gridsize, **overrides)
    ae, d2o = build_models(cfg, intensity_scale=10.0, probe=np.ones((N, N), np.complex64), seed=0)
    assert network_parameter_count(ae) == expected
    assert network_parameter_count(d2o) == expected
    # w and the probe are real weights outside that count (w trainable by default, probe not).
    extra = sum(p.numel() for p in ae.parameters() if p.requires_grad) - expected
    assert extra == 1


def test_unsupported_N_is_rejected():
    cfg = ModelConfig(N=64)
    cfg.N = 96
    with pytest.raises(ValueError, match="96"):
        build_models(cfg, intensity_scale=1.0, probe=np.ones((96, 96), np.complex64))


def test_glorot_uniform_weights_zero_biases_and_seeded_init():
    cfg = ModelConfig(N=64, n_filters_scale=1)
    ae, _ = build_models(cfg, intensity_scale=1.0, probe=np.ones((64, 64), np.complex64), seed=5)
    convs = [m for m in ae.modules() if isinstance(m, Conv3x3)]
    assert len(convs) == 6 + 2 * (4 + 1 + 3)
    for conv in convs:
        c_out, c_in = conv.weight.shape[:2]
        limit = math.sqrt(6.0 / (9 * c_in + 9 * c_out))
        w = conv.weight.detach()
        assert float(w.abs().max()) <= limit
        assert not conv.bias.detach().any()
        if w.numel() > 2000:  # uniform on ±limit: std = limit/sqrt(3)
            assert float(w.std()) == pytest.approx(limit / math.sqrt(3), rel=0.05)
    again, _ = build_models(cfg, intensity_scale=1.0, probe=np.ones((64, 64), np.complex64), seed=5)
    other, _ = build_models(cfg, intensity_scale=1.0, probe=np.ones((64, 64), np.complex64), seed=6)
    first = convs[0].weight.detach()
    assert torch.equal(first, next(m for m in again.modules() if isinstance(m, Conv3x3)).weight.detach())
    assert not torch.equal(first, next(m for m in other.modules() if isinstance(m, Conv3x3)).weight.detach())


@pytest.mark.parametrize("gridsize", [1, 2])
def test_outputs_shapes_dtypes_and_scale_factor_forms(gridsize):
    n, c, b = 64, gridsize**2, 3
    cfg = ModelConfig(N=n, gridsize=gridsize, n_filters_scale=1)
    ae, d2o = build_models(cfg, intensity_scale=20.0, probe=_probe(n), seed=1)
    assert model_channels(d2o) == c
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(0, 2, (b, c, n, n)).astype(np.float32))
    pos = torch.from_numpy(rng.uniform(-2, 2, (b, c, 1, 2)).astype(np.float32))
    with torch.no_grad():
        obj, amp, intensity = ae(x, pos, torch.full((b, 1, 1, 1), 20.0))
        merged = d2o(x, pos, torch.full((b,), 20.0))
        same = d2o(x * 20.0, pos)  # None ≡ 1
        patches = d2o.predict_patches(x, pos, 20.0)
    assert obj.shape == (b, 1, n, n) and obj.dtype == torch.complex64
    assert amp.shape == (b, c, n, n) and amp.dtype == torch.float32
    assert intensity.dtype == torch.float32
    torch.testing.assert_close(intensity, amp * amp)
    torch.testing.assert_close(merged, obj)
    torch.testing.assert_close(same, obj, rtol=1e-6, atol=1e-7)
    assert patches.shape == (b, c, n, n) and patches.dtype == torch.complex64
    # pad_object: the decoder object lives in the central N/2 window; the probe_big border
    # branch is masked to the outside, so both parts are present.
    assert patches[..., n // 4 : 3 * n // 4, n // 4 : 3 * n // 4].abs().min() > 0
    with pytest.raises(ValueError, match=rf"gridsize={gridsize} \({c} channels\) but the input has {c + 1} channels"):
        d2o(torch.zeros(b, c + 1, n, n), torch.zeros(b, c + 1, 1, 2))


@pytest.mark.parametrize("gridsize,sigma,mask", [(1, 0.0, False), (2, 0.0, False), (2, 0.9, True)])
def test_model_physics_equals_numpy_pipeline(gridsize, sigma, mask):
    """autoencoder outputs == NumPy reference (merge, extract, illumination, far field, exp(w))
    applied to the model's own object patches."""
    n, c, b = 64, gridsize**2, 4
    cfg = ModelConfig(N=n, gridsize=gridsize, n_filters_scale=1, gaussian_smoothing_sigma=sigma, probe_mask=mask)
    probe = _probe(n)
    ae, d2o = build_models(cfg, intensity_scale=30.0, probe=probe, seed=2)
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.uniform(0, 1, (b, c, n, n)).astype(np.float32))
    r = np.round(rng.uniform(-3, 3, (b, c, 1, 2)) * 32) / 32  # dyadic: exact in float32
    pos = torch.from_numpy((r - r.mean(axis=1, keepdims=True)).astype(np.float32))
    with torch.no_grad():
        obj, amp, intensity = ae(x, pos, 30.0)
        patches = d2o.predict_patches(x, pos, 30.0)
    ref = forward_reference(
        patches.numpy().transpose(0, 2, 3, 1).astype(np.complex128),
        pos.numpy().transpose(0, 2, 3, 1),
        probe.astype(np.complex128),
        float(ae.core.scaler.log_scale.detach()),
        canvas_size=canvas_size(n, gridsize),
        gaussian_smoothing_sigma=sigma,
        probe_mask=mask,
    )
    for got, want in [(obj.numpy()[:, 0], ref.trimmed_obj[..., 0]), (amp.numpy(), ref.pred_amp_scaled),
                      (intensity.numpy(), ref.pred_intensity)]:
        want = want if want.shape == got.shape else np.moveaxis(want, 3, 1)
        assert np.max(np.abs(got - want)) <= 2e-5 * np.max(np.abs(want))


def test_one_w_scales_the_input_and_the_predicted_amplitude():
    """Shifting w by δ while scaling the input by exp(δ) leaves the network input unchanged,
    so the patches are unchanged and pred_amp_scaled gains exactly exp(δ) (§4.3, §8 item 6)."""
    n = 64
    cfg = ModelConfig(N=n, n_filters_scale=1)
    ae, d2o = build_models(cfg, intensity_scale=8.0, probe=_probe(n), seed=3)
    assert trained_intensity_scale(ae) == pytest.approx(8.0, rel=1e-6)
    x = torch.rand(2, 1, n, n)
    pos = torch.zeros(2, 1, 1, 2)
    with torch.no_grad():
        obj0, amp0, _ = ae(x, pos, 8.0)
        ae.core.scaler.log_scale += 0.5
        obj1, amp1, _ = ae(x, pos, 8.0 * math.exp(0.5))
    torch.testing.assert_close(obj1, obj0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(amp1, amp0 * math.exp(0.5), rtol=1e-5, atol=1e-4)


def test_trainable_flags_for_w_and_probe():
    n = 64
    probe = _probe(n)
    ae, _ = build_models(ModelConfig(N=n, n_filters_scale=1), intensity_scale=4.0, probe=probe,
                         intensity_scale_trainable=False, probe_trainable=True)
    assert not ae.core.scaler.log_scale.requires_grad
    assert ae.core.illumination.probe_real.requires_grad and ae.core.illumination.probe_imag.requires_grad
    np.testing.assert_array_equal(model_probe(ae), probe)
    with pytest.raises(ValueError, match="probe"):
        build_models(ModelConfig(N=n), intensity_scale=4.0, probe=None)


def test_supervised_model_signature_and_input_scaling():
    n, s = 64, 12.5
    cfg = ModelConfig(N=n, model_type="supervised", n_filters_scale=1)
    ae, d2o = build_models(cfg, intensity_scale=s, seed=4)
    # 3 DownBlocks (32k, 64k, 128k) + 2 × (UpBlocks 128k, 64k, 32k + Conv(1)) with k = 1
    conv = lambda ci, co: 9 * ci * co + co  # noqa: E731
    encoder = conv(1, 32) + conv(32, 32) + conv(32, 64) + conv(64, 64) + conv(64, 128) + conv(128, 128)
    decoder = conv(128, 128) + conv(128, 128) + conv(128, 64) + conv(64, 64) + conv(64, 32) + conv(32, 32) + conv(32, 1)
    assert network_parameter_count(ae) == encoder + 2 * decoder
    x = torch.rand(2, 1, n, n)
    with torch.no_grad():
        obj, amp, phase = ae(x * s, torch.zeros(2, 1, 1, 2))
        obj_pos = d2o(x * s, torch.full((2, 1, 1, 2), 5.0))  # positions are ignored
        direct = ae.core.generator(x)  # the network sees X = (s·X)/s
    assert obj.shape == amp.shape == phase.shape == (2, 1, n, n) and obj.dtype == torch.complex64
    torch.testing.assert_close(obj_pos, obj)
    torch.testing.assert_close(amp, direct[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(obj, torch.polar(amp, phase))
    with pytest.raises(ValueError, match="gridsize == 1"):
        build_models(ModelConfig(N=n, gridsize=2, model_type="supervised"), intensity_scale=1.0)
    assert trained_intensity_scale(ae) is None and model_probe(ae) is None


def test_physics_stays_float32_under_mixed_precision():
    """bf16 autocast runs the convolutions in bf16 but the merge, FFT and outputs in
    float32/complex64 (api spec §2.6 precision)."""
    n = 64
    ae, _ = build_models(ModelConfig(N=n, gridsize=2, n_filters_scale=1), intensity_scale=10.0, probe=_probe(n), seed=0)
    x = torch.rand(2, 4, n, n)
    pos = torch.rand(2, 4, 1, 2)
    with torch.no_grad():
        full = ae(x, pos, 10.0)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = ae(x, pos, 10.0)
            bf16_features = ae.core.generator.encoder[0].conv0(x)
    assert bf16_features.dtype == torch.bfloat16  # autocast is really active
    assert mixed[0].dtype == torch.complex64
    assert mixed[1].dtype == torch.float32 and mixed[2].dtype == torch.float32
    # same physics, only the network's bf16 rounding differs
    rel = float((mixed[1] - full[1]).abs().max() / full[1].abs().max())
    assert 0 < rel < 0.1
