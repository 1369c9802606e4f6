"""Torch losses (physics §12.1, §9) against the NumPy reference formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tensordict import TensorDict

from ptychopinn_plugin.backends.torch import losses as tl
from ptychopinn_plugin.config import ModelConfig, TrainingConfig
from ptychopinn_plugin.physics import intensity as ref


def _rng_arrays(seed=0, shape=(3, 4, 16, 16)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 50.0, shape).astype(np.float32), rng.uniform(0.0, 50.0, shape).astype(np.float32)


def test_poisson_nll_and_mae_match_references():
    pred, target = _rng_arrays()
    pred[0, 0, 0, :4] = 0.0  # exercises the 1e-12 floor inside the log
    got = float(tl.poisson_nll(torch.from_numpy(target**2), torch.from_numpy(pred**2)))
    assert got == pytest.approx(ref.poisson_nll(pred**2, target**2), rel=1e-5)
    got_mae = float(tl.amplitude_mae(torch.from_numpy(target), torch.from_numpy(pred)))
    assert got_mae == pytest.approx(ref.mae_loss(pred, target), rel=1e-6)


def test_total_variation_and_complex_mae_match_references():
    rng = np.random.default_rng(1)
    obj = (rng.normal(size=(2, 1, 8, 8)) + 1j * rng.normal(size=(2, 1, 8, 8))).astype(np.complex64)
    tgt = (rng.normal(size=(2, 1, 8, 8)) + 1j * rng.normal(size=(2, 1, 8, 8))).astype(np.complex64)
    tv = float(tl.total_variation(torch.from_numpy(obj)))
    assert tv == pytest.approx(ref.total_variation(obj[:, 0]), rel=1e-5)
    mae = float(tl.complex_mae(torch.from_numpy(obj), torch.from_numpy(tgt)))
    assert mae == pytest.approx(ref.realspace_mae(obj, tgt), rel=1e-5)


def _batch(images, scale, label_object=None):
    b = images.shape[0]
    data = {
        "images": torch.from_numpy(images),
        "rms_scaling_constant": torch.full((b, 1, 1, 1), 0.5),
        "physics_scaling_constant": torch.full((b, 1, 1, 1), 2.0 * scale),
    }
    if label_object is not None:
        data["label_object"] = torch.from_numpy(label_object)
    return TensorDict(data, batch_size=[b])


def test_pinn_total_loss_uses_scaled_targets_and_weights():
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 2, (2, 4, 16, 16)).astype(np.float32)
    s = 7.0
    pred_amp = rng.uniform(0, 20, images.shape).astype(np.float32)
    obj = (rng.uniform(0.1, 1, (2, 1, 16, 16)) * np.exp(1j * rng.uniform(-1, 1, (2, 1, 16, 16)))).astype(np.complex64)
    y_c = (rng.uniform(0.1, 1, (2, 1, 16, 16)) * np.exp(1j * rng.uniform(-1, 1, (2, 1, 16, 16)))).astype(np.complex64)
    cfg = TrainingConfig(model=ModelConfig(N=64, probe_big=True), nll_weight=0.7, mae_weight=0.3,
                         realspace_weight=0.2, realspace_mae_weight=0.5, tv_weight=0.01)
    spec = tl.LossSpec.from_training_config(cfg, has_ground_truth=True)
    assert spec.needs_object_target and spec.window_N is None
    outputs = (torch.from_numpy(obj), torch.from_numpy(pred_amp), torch.from_numpy(pred_amp) ** 2)
    terms = tl.pinn_loss_terms(outputs, _batch(images, s, y_c), spec)
    target = s * images.astype(np.float64)  # 0.5 · (2s) · images
    nll = ref.poisson_nll(pred_amp.astype(np.float64) ** 2, target**2)
    mae = ref.mae_loss(pred_amp, target)
    rs = 0.01 * ref.total_variation(obj[:, 0]) + 0.5 * ref.realspace_mae(obj, y_c)
    assert float(terms["pred_intensity_loss"]) == pytest.approx(nll, rel=1e-5)
    assert float(terms["pred_amp_scaled_loss"]) == pytest.approx(mae, rel=1e-5)
    assert float(terms["trimmed_obj_loss"]) == pytest.approx(rs, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(0.2 * rs + 0.3 * mae + 0.7 * nll, rel=1e-5)


def test_realspace_window_without_probe_big_and_ground_truth_requirement():
    cfg = TrainingConfig(model=ModelConfig(N=64, probe_big=False), realspace_weight=1.0, tv_weight=1.0)
    spec = tl.LossSpec.from_training_config(cfg, has_ground_truth=False)  # TV alone needs no truth
    assert spec.window_N == 64 and not spec.needs_object_target
    obj = np.ones((1, 1, 64, 64), np.complex64)  # flat inside the window: TV only at the window edges
    terms = tl.pinn_loss_terms((torch.from_numpy(obj), torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 64, 64)),
                               _batch(np.zeros((1, 1, 64, 64), np.float32), 1.0), spec)
    assert float(terms["trimmed_obj_loss"]) == pytest.approx(4 * 32 * 1.0)  # 4 edges × 32 px × 1²
    bad = TrainingConfig(model=ModelConfig(N=64), realspace_weight=1.0, realspace_mae_weight=1.0)
    with pytest.raises(ValueError, match="ground-truth"):
        tl.LossSpec.from_training_config(bad, has_ground_truth=False)


def test_supervised_loss_terms():
    rng = np.random.default_rng(3)
    amp, phase, la, lp = (rng.normal(size=(2, 1, 8, 8)).astype(np.float32) for _ in range(4))
    batch = TensorDict({"label_amp": torch.from_numpy(la), "label_phase": torch.from_numpy(lp)}, batch_size=[2])
    terms = tl.supervised_loss_terms((None, torch.from_numpy(amp), torch.from_numpy(phase)), batch)
    assert float(terms["loss"]) == pytest.approx(ref.mae_loss(amp, la) + ref.mae_loss(phase, lp), rel=1e-6)
    with pytest.raises(ValueError, match="label_amp"):
        tl.supervised_loss_terms((None, torch.from_numpy(amp), torch.from_numpy(phase)),
                                 TensorDict({}, batch_size=[2]))
