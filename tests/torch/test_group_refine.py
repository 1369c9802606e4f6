"""Group refinement (``ModelConfig.group_refine_iterations``, docs/architecture.md): the torch
module against the NumPy reference, the spec's forward model untouched at 0 iterations, and
the physics it is for — a group's own patterns pull a flat canvas towards the true object."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch  # noqa: E402

from ptychopinn_plugin.config import ModelConfig  # noqa: E402

from .conftest import make_container  # noqa: E402


def _core(iterations: int, *, sigma: float = 0.0, mask: bool = False, seed: int = 0, momentum: float = 0.0):
    from ptychopinn_plugin.backends.torch.models import PINNCore

    container = make_container(gridsize=2, n_groups=4)
    cfg = ModelConfig(N=64, gridsize=2, n_filters_scale=1, gaussian_smoothing_sigma=sigma, probe_mask=mask,
                      group_refine_iterations=iterations, group_refine_momentum=momentum)
    core = PINNCore(cfg, intensity_scale=float(np.sqrt(1e6) / 32), probe=np.asarray(container.probe), seed=seed)
    return core.eval(), container


def _inputs(container):
    from ptychopinn_plugin.backends.torch.container import positions_channels_first, to_channels_first

    return to_channels_first(container.X).float(), positions_channels_first(container.coords_nominal).float()


def test_shift_sample_matches_the_gather_translation():
    from ptychopinn_plugin.backends.torch.translation import shift_sample
    from ptychopinn_plugin.backends.torch.translation import sample_shifted

    gen = torch.Generator().manual_seed(0)
    images = torch.rand(6, 2, 30, 30, generator=gen)
    rows = torch.tensor([0.0, 2.25, -3.5, 7.75, 12.0, -0.4])
    cols = torch.tensor([0.0, -1.5, 4.125, 9.9, -8.0, 0.6])
    ours = shift_sample(images, rows, cols, (24, 26))
    reference = sample_shifted(images, rows, cols, (24, 26))
    assert ours.shape == reference.shape == (6, 2, 24, 26)
    assert torch.max(torch.abs(ours - reference)) < 1e-5
    assert float(reference.abs().sum()) > 0  # shifts partly outside: zeros there in both


@pytest.mark.parametrize("sigma, mask, momentum", [(0.0, False, 0.0), (0.5, True, 0.0), (0.0, False, 0.9)])
def test_refinement_matches_the_numpy_reference(sigma, mask, momentum):
    from ptychopinn_plugin.physics.group_refine import group_error_reduction

    core, container = _core(3, sigma=sigma, mask=mask, momentum=momentum)
    x, positions = _inputs(container)
    with torch.no_grad():
        net_in = core._network_input(x, positions, None)
        canvas = core.assembly(core._patches_of(net_in), positions)
        refined = core._refined_canvas(net_in, positions)
    expected = group_error_reduction(canvas[:, 0].numpy(), np.moveaxis(net_in.numpy(), 1, 3),
                                     container.coords_nominal, core.illumination.probe(), 3,
                                     gaussian_smoothing_sigma=sigma, use_mask=mask, momentum=momentum)
    got = refined[:, 0].numpy()
    change = np.abs(expected - canvas[:, 0].numpy()).max()
    assert change > 1e-2 * np.abs(expected).max()  # the iterations did something
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_the_keras_layer_matches_the_numpy_reference(momentum):
    """TF's layer (exact bilinear gather) and torch's module (``grid_sample``) each agree with
    the float64 reference to 1e-5 of the canvas (observed 1.3e-6 and 8.2e-6 at β = 0.9), so
    their larger mutual difference with momentum in the parity test is rounding, not semantics."""
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from ptychopinn_plugin.backends.tf.group_refine import GroupRefinement as KerasGroupRefinement
    from ptychopinn_plugin.physics.group_refine import group_error_reduction

    core, container = _core(3, momentum=momentum)
    x, positions = _inputs(container)
    with torch.no_grad():
        net_in = core._network_input(x, positions, None)
        canvas = core.assembly(core._patches_of(net_in), positions)[:, 0].numpy()
        torch_refined = core._refined_canvas(net_in, positions)[:, 0].numpy()
    amplitude = np.moveaxis(net_in.numpy(), 1, 3)
    probe = core.illumination.probe()
    expected = group_error_reduction(canvas, amplitude, container.coords_nominal, probe, 3, momentum=momentum)
    layer = KerasGroupRefinement(64, core.canvas_size, 4, 3, momentum)
    keras_refined = layer(tf.constant(canvas[..., None]), tf.constant(amplitude),
                          tf.constant(container.coords_nominal.astype(np.float32)),
                          tf.constant(probe.astype(np.complex64)[None, :, :, None])).numpy()[..., 0]
    scale = np.abs(expected).max()
    assert np.abs(expected - canvas).max() > 1e-2 * scale
    assert np.abs(keras_refined - expected).max() <= 1e-5 * scale
    assert np.abs(torch_refined - expected).max() <= 1e-5 * scale


def test_zero_iterations_leave_the_forward_model_of_the_spec():
    core, container = _core(0)
    x, positions = _inputs(container)
    with torch.no_grad():
        patches = core.object_patches(x, positions, None)
        assert torch.equal(core.refined_canvas(x, positions, None), core.assembly(patches, positions))
        refined_core, _ = _core(2)
        refined_core.load_state_dict(core.state_dict())
        plain = core(x, positions)[1]
        refined = refined_core(x, positions)[1]
    assert not torch.allclose(plain, refined)  # the same weights with iterations: another object


def _flat_start_problem(core):
    """Four crops of the simulated object, each seen by a 2×2 group 4 px apart (fractional
    offsets): the true canvases, the positions, their noise-free amplitudes and a flat start."""
    from .conftest import _raw

    obj = np.asarray(_raw(48, 0).objectGuess)
    p = core.canvas_size
    true_canvas = torch.from_numpy(np.stack([obj[r:r + p, r:r + p] for r in (10, 30, 50, 70)])[:, None]
                                   .astype(np.complex64))
    offsets = [(-2.0, -2.0), (2.25, -1.75), (-2.0, 2.5), (1.5, 2.0)]
    positions = torch.tensor(offsets, dtype=torch.float32)[None, :, None, :].repeat(4, 1, 1, 1)
    with torch.no_grad():
        amplitude = core.far_field(core.illumination(core.extract(true_canvas, positions)))
    flat = torch.full_like(true_canvas, complex(float(true_canvas.abs().mean()), 0.0))
    return true_canvas, positions, amplitude, flat


def _misfit(core, canvas, positions, amplitude) -> float:
    with torch.no_grad():
        predicted = core.far_field(core.illumination(core.extract(canvas, positions)))
    return float(torch.sum((predicted - amplitude) ** 2))


def _refine(core, canvas, amplitude, positions):
    with torch.no_grad():
        effective_probe = core.illumination(torch.ones(1, 1, core.N, core.N, dtype=torch.complex64))
        return core.group_refine(canvas, amplitude, positions, effective_probe)


def test_momentum_fits_a_groups_patterns_in_half_the_iterations():
    """Nesterov momentum 0.9 (``group_refine_momentum``) from a flat canvas: 15 iterations fit
    the group's patterns better than 30 plain error-reduction iterations (observed 11.9
    against 13.6, and 19.6 for 15 plain ones; on the built-in sample 20 iterations with
    momentum score what 100 plain ones score, docs/benchmarks.md)."""
    plain, _ = _core(30)
    fast, _ = _core(15, momentum=0.9)
    _, positions, amplitude, flat = _flat_start_problem(plain)
    start = _misfit(plain, flat, positions, amplitude)
    plain_misfit = _misfit(plain, _refine(plain, flat, amplitude, positions), positions, amplitude)
    fast_misfit = _misfit(fast, _refine(fast, flat, amplitude, positions), positions, amplitude)
    assert plain_misfit < 0.05 * start
    assert fast_misfit < plain_misfit


def test_a_groups_own_patterns_pull_a_flat_canvas_to_the_true_object():
    """Noise-free patterns of four crops of the simulated object, each seen by a 2×2 group
    4 px apart (fractional offsets): 40 iterations from a flat canvas fit the patterns far
    better and correlate with the true amplitude where every member lights the canvas."""
    core, _ = _core(40)
    true_canvas, positions, amplitude, flat = _flat_start_problem(core)
    refined = _refine(core, flat, amplitude, positions)
    with torch.no_grad():
        lit = _lit_region(core, positions)
    a, t = refined[:, 0].abs()[lit].numpy(), true_canvas[:, 0].abs()[lit].numpy()
    assert int(lit.sum()) > 4 * 100
    assert _misfit(core, refined, positions, amplitude) < 0.1 * _misfit(core, flat, positions, amplitude)
    assert np.corrcoef(a, t)[0, 1] > 0.9


def _lit_region(core, positions) -> torch.Tensor:
    """Canvas pixels every member's probe lights at ≥ 10 % of its peak intensity."""
    from ptychopinn_plugin.backends.torch.translation import shift_sample

    probe = torch.from_numpy(core.illumination.probe())
    power = (probe.abs() ** 2 / (probe.abs() ** 2).max()).float()
    b, c, n, p = positions.shape[0], positions.shape[1], core.N, core.canvas_size
    margin = (p - n) // 2
    shifts = positions.reshape(b * c, 2)
    moved = shift_sample(power.expand(b * c, 1, n, n).contiguous(), shifts[:, 1] - margin, shifts[:, 0] - margin,
                         (p, p)).reshape(b, c, p, p)
    return (moved >= 0.1).all(dim=1)


def test_gradients_reach_the_generator_through_the_iterations():
    from ptychopinn_plugin.backends.torch.losses import poisson_nll

    core, container = _core(2)
    core.train()
    x, positions = _inputs(container)
    _, _, intensity = core(x, positions)
    poisson_nll(x * x, intensity).backward()
    grads = [p.grad for p in core.generator.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_tensorflow_model_file_with_refinement_round_trips(tmp_path):
    """The Keras layers have no weights of their own and rebuild from their config: a saved
    .keras model (safe mode) predicts what the model in memory predicts."""
    pytest.importorskip("tensorflow")
    from ptychopinn_plugin.backends.tf.models import build_pinn_models
    from ptychopinn_plugin.backends.tf.saving import load_keras_model, save_keras_model

    container = make_container(gridsize=2, n_groups=4)
    _, d2o = build_pinn_models(ModelConfig(N=64, gridsize=2, n_filters_scale=1, group_refine_iterations=3,
                                                           group_refine_momentum=0.9),
                               intensity_scale=31.25, probe=np.asarray(container.probe), seed=0)
    names = [layer.name for layer in d2o.layers]
    assert "group_refinement" in names and "unit_patch" in names
    inputs = [container.X * np.float32(31.25), container.coords_nominal]
    before = np.asarray(d2o(inputs))
    loaded = load_keras_model(save_keras_model(d2o, tmp_path / "d2o.keras"))
    np.testing.assert_allclose(np.asarray(loaded(inputs)), before, rtol=0, atol=1e-6 * np.abs(before).max())
