"""TF ↔ torch gradient parity: identical weights and batch → identical loss *gradients*.

The forward parity test (``test_torch_parity.py``) cannot see a backward-only defect
(e.g. a complex operation whose torch gradient has the wrong conjugation), yet such a
defect would make the two backends train differently from the same start.  Here the
Poisson-NLL gradient with respect to every network weight (and ``w``) is computed by
``tf.GradientTape`` and by torch autograd and compared weight by weight.

Acceptance: for every weight ``max|g_torch − g_tf| ≤ 1e-3 · max|g_tf|`` (float32 sums over
a whole batch of FFTs accumulate rounding differently), and the cosine similarity of
the concatenated gradient vectors is > 0.9999.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("keras")

import torch  # noqa: E402

from ptychopinn_plugin.backends.tf import models as tf_models  # noqa: E402
from ptychopinn_plugin.backends.tf.losses import pinn_losses  # noqa: E402
from ptychopinn_plugin.backends.torch.models import build_models as torch_build  # noqa: E402
from ptychopinn_plugin.backends.torch.weights import copy_weights_from_keras, keras_weight_names  # noqa: E402
from ptychopinn_plugin.config import ModelConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.physics.probe import default_probe, normalise_probe  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.torch]


def _batch(n: int, gridsize: int, b: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = gridsize**2
    x = rng.uniform(0.0, 2.0, (b, n, n, c)).astype(np.float32)
    x *= np.float32(n / 2 / np.sqrt(np.mean(np.sum(x.astype(np.float64) ** 2, axis=(1, 2)))))
    r = rng.uniform(-4.0, 4.0, (b, 1, 2, c))
    r = (r - r.mean(axis=3, keepdims=True)).astype(np.float32)
    probe = normalise_probe(default_probe(n).astype(np.complex64) * np.exp(1j * rng.uniform(-0.3, 0.3, (n, n))), 4.0)
    return x, r, probe


@pytest.mark.parametrize("gridsize, architecture", [(1, "cnn"), (2, "cnn"), (1, "resnet"), (2, "resnet")])
def test_nll_gradients_match_tensorflow(gridsize, architecture):
    n = 64
    cfg = ModelConfig(N=n, gridsize=gridsize, n_filters_scale=1, architecture=architecture)
    train_cfg = TrainingConfig(model=cfg, nphotons=1e6)
    s = float(np.sqrt(train_cfg.nphotons) / (n / 2))
    x, r, probe = _batch(n, gridsize)
    x_scaled = x * np.float32(s)

    ae_tf, _ = tf_models.build_models(cfg, intensity_scale=s, probe=probe, seed=3)
    # Move the phase branch off its symmetric start so its gradient is not ~0 by symmetry.
    rng = np.random.default_rng(5)
    for variable in ae_tf.weights:
        if "phase_object_conv/bias" in variable.path:
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype(np.float32))
        elif variable.path.endswith("/kernel") and not np.any(np.asarray(variable)):
            # 'resnet': open the zero-initialised residual branches so their gradients flow.
            variable.assign(rng.normal(0.0, 0.02, variable.shape).astype(np.float32))
    ae_t, _ = torch_build(cfg, intensity_scale=s, probe=probe, seed=4)
    copy_weights_from_keras(ae_t, tf_models.named_weights(ae_tf))

    losses, weights = pinn_losses(train_cfg, has_ground_truth=False)
    nll = losses[2]
    with tf.GradientTape() as tape:
        outputs = ae_tf([tf.constant(x_scaled), tf.constant(r)], training=True)
        tf_loss = nll(tf.constant(x_scaled**2), outputs[2])
    variables = [v for v in ae_tf.trainable_weights]
    tf_grads = {v.path: np.asarray(g) for v, g in zip(variables, tape.gradient(tf_loss, variables)) if g is not None}

    images = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    coords = torch.from_numpy(r.transpose(0, 3, 1, 2).copy())
    scale = torch.full((x.shape[0], 1, 1, 1), s)
    ae_t.zero_grad()
    _, _, intensity = ae_t(images, coords, scale)
    target = torch.from_numpy((x_scaled**2).transpose(0, 3, 1, 2).copy())
    loss_t = torch.mean(intensity - target * torch.log(torch.clamp(intensity, min=1e-12)))
    loss_t.backward()
    assert abs(float(loss_t) - float(tf_loss)) <= 1e-5 * abs(float(tf_loss))

    names = keras_weight_names(ae_t)
    global_max = max(float(np.max(np.abs(g))) for g in tf_grads.values())
    compared, flat_tf, flat_t, worst = 0, [], [], {}
    for name, (param, layout) in names.items():
        if name not in tf_grads or param.grad is None:
            continue
        g_t = param.grad.detach().numpy()
        g_t = (g_t.transpose(2, 3, 1, 0) if layout == "conv" else g_t.T if layout == "dense"
               else g_t.reshape(tf_grads[name].shape))
        g_tf = tf_grads[name]
        error = float(np.max(np.abs(g_t - g_tf)))
        # Relative to the weight's own gradient, with a floor for weights whose gradient is
        # ~1e-8 of the largest one (the ×1000-amplified border branch): rounding dominates there.
        allowed = 1e-3 * float(np.max(np.abs(g_tf))) + 1e-6 * global_max
        worst[name] = error / allowed
        flat_tf.append(g_tf.ravel())
        flat_t.append(g_t.ravel())
        compared += 1
    assert compared >= 20 and any("phase_object_conv" in k for k in worst)
    assert max(worst.values()) <= 1.0, sorted(worst.items(), key=lambda kv: -kv[1])[:3]
    a, b = np.concatenate(flat_tf), np.concatenate(flat_t)
    assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.9999
