"""Loss values (physics §12.1, §9) against NumPy formulas written out here."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf.losses import (  # noqa: E402
    RealSpaceLoss,
    amplitude_mae,
    complex_mae,
    pinn_losses,
    poisson_nll,
    total_variation,
)
from ptychopinn_plugin.backends.tf.models import build_models  # noqa: E402
from ptychopinn_plugin.backends.tf.training import compile_models  # noqa: E402
from ptychopinn_plugin.config import ModelConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.physics import default_probe, normalise_probe  # noqa: E402

N = 64


def np_nll(lam, y):
    lam = lam.astype(np.float64)
    return np.mean(lam - y.astype(np.float64) * np.log(np.maximum(lam, 1e-12)))


def np_tv(o):
    o = o.astype(np.complex128)[..., 0]
    total = 0.0
    for part in (o.real, o.imag):
        total += np.sum((part[:, 1:, :] - part[:, :-1, :]) ** 2) + np.sum((part[:, :, 1:] - part[:, :, :-1]) ** 2)
    return total


def np_complex_mae(o, y):
    o = o.astype(np.complex128)
    y = y.astype(np.complex128)
    return np.mean(np.abs(np.abs(o) - np.abs(y))) + np.mean(np.abs(np.angle(o) - np.angle(y)))


def _random_complex(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.1, 2, size=shape) * np.exp(1j * rng.uniform(-3, 3, size=shape))).astype(np.complex64)


def test_formula_functions_match_numpy():
    rng = np.random.default_rng(0)
    lam = rng.uniform(0, 50, size=(3, 8, 8, 2)).astype(np.float32)
    lam[0, 0, 0, 0] = 0.0  # exercises the 1e-12 floor
    y = rng.poisson(20, size=lam.shape).astype(np.float32)
    assert float(poisson_nll(y, lam)) == pytest.approx(np_nll(lam, y), rel=1e-5)
    a, b = rng.normal(size=(2, 4, 8, 8, 1)).astype(np.float32)
    assert float(amplitude_mae(b, a)) == pytest.approx(np.mean(np.abs(a.astype(np.float64) - b)), rel=1e-6)
    o = _random_complex((3, 8, 8, 1), 1)
    yc = _random_complex((3, 8, 8, 1), 2)
    assert float(total_variation(tf.constant(o))) == pytest.approx(np_tv(o), rel=1e-5)
    assert float(complex_mae(tf.constant(o), tf.constant(yc))) == pytest.approx(np_complex_mae(o, yc), rel=1e-5)


def test_realspace_loss_applies_the_central_window_without_probe_big():
    o = _random_complex((2, N, N, 1), 3)
    yc = _random_complex((2, N, N, 1), 4)
    window = np.zeros((1, N, N, 1), np.float32)
    window[:, N // 4 : 3 * N // 4, N // 4 : 3 * N // 4] = 1
    loss = RealSpaceLoss(tv_weight=0.01, mae_weight=2.0, window_N=N)
    masked = o * window
    expected = 0.01 * np_tv(masked) + 2.0 * np_complex_mae(masked, yc)
    assert float(loss(tf.constant(yc), tf.constant(o))) == pytest.approx(expected, rel=1e-5)
    unmasked = RealSpaceLoss(tv_weight=0.01, mae_weight=2.0, window_N=None)
    expected = 0.01 * np_tv(o) + 2.0 * np_complex_mae(o, yc)
    assert float(unmasked(tf.constant(yc), tf.constant(o))) == pytest.approx(expected, rel=1e-5)


def test_realspace_mae_needs_real_ground_truth():
    cfg = TrainingConfig(model=ModelConfig(N=N), realspace_weight=1.0, realspace_mae_weight=0.5)
    with pytest.raises(ValueError, match="realspace_mae_weight"):
        pinn_losses(cfg, has_ground_truth=False)
    pinn_losses(cfg, has_ground_truth=True)
    # TV alone needs no ground truth
    pinn_losses(TrainingConfig(model=ModelConfig(N=N), realspace_weight=1.0, tv_weight=0.1), has_ground_truth=False)


@pytest.mark.parametrize("probe_big", [True, False])
def test_compiled_total_loss_is_the_weighted_sum_of_the_terms(probe_big):
    cfg = TrainingConfig(
        model=ModelConfig(N=N, gridsize=2, n_filters_scale=1, probe_big=probe_big),
        nll_weight=0.5, mae_weight=0.7, realspace_weight=0.3, realspace_mae_weight=2.0, tv_weight=1e-3,
    )
    s = 4.0
    probe = normalise_probe(default_probe(N).astype(np.complex64))
    ae, _ = build_models(cfg.model, intensity_scale=s, probe=probe, seed=5)
    compile_models(ae, cfg, has_ground_truth=True)
    rng = np.random.default_rng(6)
    x = rng.random((4, N, N, 4)).astype(np.float32)
    sx = (np.float32(s) * x).astype(np.float32)
    r = rng.uniform(-2, 2, size=(4, 1, 2, 4)).astype(np.float32)
    r -= r.mean(axis=3, keepdims=True)
    yc = _random_complex((4, N, N, 1), 7)
    obj, amp, inten = ae.predict_on_batch([sx, r])
    logs = ae.evaluate([sx, r], [yc, sx, sx * sx], batch_size=4, return_dict=True, verbose=0)

    o = obj if probe_big else obj * np.pad(np.ones((N // 2, N // 2)), N // 4)[None, :, :, None]
    rs = 1e-3 * np_tv(o) + 2.0 * np_complex_mae(o, yc)
    mae = np.mean(np.abs(amp.astype(np.float64) - sx))
    nll = np_nll(inten, sx * sx)
    assert logs["trimmed_obj_loss"] == pytest.approx(rs, rel=1e-4)
    assert logs["pred_amp_scaled_loss"] == pytest.approx(mae, rel=1e-4)
    assert logs["pred_intensity_loss"] == pytest.approx(nll, rel=1e-4)
    assert logs["loss"] == pytest.approx(0.3 * rs + 0.7 * mae + 0.5 * nll, rel=1e-4)

    # Gradients stay finite even where Õ is exactly 0 (outside the window without probe_big).
    with tf.GradientTape() as tape:
        outputs = ae([tf.constant(sx), tf.constant(r)], training=True)
        total = ae.compute_loss(x=None, y=[tf.constant(yc), tf.constant(sx), tf.constant(sx * sx)], y_pred=outputs)
    grads = tape.gradient(total, ae.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)


def test_default_weights_give_pure_poisson_nll():
    cfg = TrainingConfig(model=ModelConfig(N=N, n_filters_scale=1))
    losses, weights = pinn_losses(cfg, has_ground_truth=False)
    assert weights == [0.0, 0.0, 1.0]
    assert [type(loss).__name__ for loss in losses] == ["ZeroLoss", "AmplitudeMAE", "PoissonNLL"]


def test_supervised_loss_is_mae_of_amplitude_plus_phase():
    cfg = TrainingConfig(model=ModelConfig(N=N, n_filters_scale=1, model_type="supervised"))
    s = 3.0
    ae, d2o = build_models(cfg.model, intensity_scale=s, seed=1)
    compile_models(ae, cfg, has_ground_truth=True)
    rng = np.random.default_rng(2)
    sx = (s * rng.random((2, N, N, 1))).astype(np.float32)
    pos = rng.normal(size=(2, 1, 2, 1)).astype(np.float32)
    y = _random_complex((2, N, N, 1), 9)
    obj, amp, phase = ae.predict_on_batch([sx, pos])
    np.testing.assert_allclose(obj, amp * np.exp(1j * phase), rtol=1e-5, atol=1e-6)
    # positions are ignored; the input is divided by s inside the model
    np.testing.assert_array_equal(d2o.predict_on_batch([sx, np.zeros_like(pos)]), obj)
    logs = ae.evaluate([sx, pos], [np.abs(y), np.angle(y)], return_dict=True, verbose=0)
    expected = np.mean(np.abs(amp - np.abs(y).astype(np.float64))) + np.mean(np.abs(phase - np.angle(y).astype(np.float64)))
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)
