"""Torch physics modules (physics §5, §6.2, §8) against the NumPy references and identities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch import physics as tp
from ptychopinn_plugin.physics.forward import far_field_amplitude
from ptychopinn_plugin.physics.geometry import canvas_size
from ptychopinn_plugin.physics.object_big import extract_from_canvas, merge_group_patches, single_channel_canvas
from ptychopinn_plugin.physics.probe import illuminate, normalise_probe, probe_mask

N = 64


def _patches(rng, b, c, n=N):
    amp = rng.uniform(0.2, 1.0, size=(b, c, n, n))
    phase = rng.uniform(-2, 2, size=(b, c, n, n))
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def _offsets(rng, b, c, spread=3.0):
    """Zero-mean fractional offsets on a 1/64 grid, so ``r − margin`` is exact in float32.

    With arbitrary float32 offsets the float32 bilinear weights differ from a float64
    reference by ~1 ulp, and the division by a small coverage count near the window edge
    amplifies that to ~4e-5 — a conditioning effect shared by both backends, not a bug.
    """
    r = np.round(rng.uniform(-spread, spread, size=(b, c, 1, 2)) * 64) / 64
    return (r - r.mean(axis=1, keepdims=True)).astype(np.float32)


def _to_tf_layout_positions(r):
    """torch (B, C, 1, 2) → TF/NumPy (B, 1, 2, C): a pure permutation."""
    return np.transpose(r, (0, 2, 3, 1))


def test_object_big_merge_and_extraction_match_numpy_reference_per_group():
    rng = np.random.default_rng(0)
    b, c = 16, 4  # B·C = 64: the original merged all groups of such a batch into one canvas
    p = canvas_size(N, 2)
    patches = _patches(rng, b, c)
    r = _offsets(rng, b, c)
    assembly = tp.ObjectAssembly(N, p, c, object_big=True)
    canvas = assembly(torch.from_numpy(patches), torch.from_numpy(r))
    assert canvas.shape == (b, 1, p, p) and canvas.dtype == torch.complex64
    ref = merge_group_patches(np.moveaxis(patches, 1, 3).astype(np.complex128), _to_tf_layout_positions(r), p)
    got = canvas.numpy()[:, 0]
    assert np.max(np.abs(got - ref)) <= 1e-5 * np.max(np.abs(ref))

    extracted = tp.ExtractPatches(N, c)(canvas, torch.from_numpy(r)).numpy()
    ref_z = extract_from_canvas(got.astype(np.complex128), _to_tf_layout_positions(r), N).reshape(b, c, N, N)
    assert np.max(np.abs(extracted - ref_z)) <= 1e-5 * np.max(np.abs(ref_z))

    # Groups never mix: changing group 0 leaves every other canvas bit-identical.
    patches2 = patches.copy()
    patches2[0] *= 3.0
    canvas2 = assembly(torch.from_numpy(patches2), torch.from_numpy(r)).numpy()
    np.testing.assert_array_equal(canvas2[1:], canvas.numpy()[1:])
    assert not np.allclose(canvas2[0], canvas.numpy()[0])


def test_merge_then_extract_recovers_consistent_patches():
    """Sign self-consistency (finding TORCH-REASSEMBLY-SIGN-001): −r to merge, +r to extract.

    Channel patches cut from one object at the members' positions (``O_c`` = the object
    region centred on ``p_c = q − r_c``) must merge into that object around the group
    centre and extract back to themselves; a one-sided sign flip would mirror the
    members through the centre and fail both checks.
    """
    rng = np.random.default_rng(1)
    b, c = 2, 4
    p = canvas_size(N, 2)
    big = _patches(rng, b, 1, n=p)[:, 0]  # object around each group centre, (B, P, P)
    r = np.array([[[[-2, 1]], [[2, -1]], [[1, 3]], [[-1, -3]]]] * b, dtype=np.float32)
    m = (p - N) // 2
    patches = np.empty((b, c, N, N), dtype=np.complex64)
    for g in range(b):
        for k in range(c):
            dx, dy = int(r[g, k, 0, 0]), int(r[g, k, 0, 1])
            # region centred on q − r: rows m − dy …, cols m − dx …
            patches[g, k] = big[g, m - dy : m - dy + N, m - dx : m - dx + N]
    canvas = tp.ObjectAssembly(N, p, c)(torch.from_numpy(patches), torch.from_numpy(r))
    trimmed = tp.trim_object(canvas, N).numpy()[:, 0]
    z = tp.ExtractPatches(N, c)(canvas, torch.from_numpy(r)).numpy()
    q = N // 4
    core = slice(q + 6, 3 * q - 6)  # covered by all four moved windows in every frame (max |r_c − r_k| = 6)
    gain = np.float32(4 / 4.001)
    np.testing.assert_allclose(trimmed[:, core, core], big[:, m:m + N, m:m + N][:, core, core] * gain, rtol=1e-5)
    np.testing.assert_allclose(z[:, :, core, core], patches[:, :, core, core] * gain, rtol=1e-5)


def test_single_channel_canvas_when_not_object_big():
    rng = np.random.default_rng(2)
    p = canvas_size(N, 1)
    patches = _patches(rng, 3, 1)
    canvas = tp.ObjectAssembly(N, p, 1, object_big=False)(torch.from_numpy(patches), torch.zeros(3, 1, 1, 2))
    np.testing.assert_array_equal(canvas.numpy()[:, 0], single_channel_canvas(np.moveaxis(patches, 1, 3), p))
    np.testing.assert_array_equal(tp.trim_object(canvas, N).numpy(), patches)


def test_far_field_parseval_centring_and_reference():
    rng = np.random.default_rng(3)
    psi = _patches(rng, 2, 3)
    amp = tp.FarFieldAmplitude(N)(torch.from_numpy(psi)).numpy()
    assert amp.dtype == np.float32 and amp.shape == psi.shape
    energy_real = np.sum(np.abs(psi.astype(np.complex128)) ** 2, axis=(2, 3))
    energy_fourier = np.sum(amp.astype(np.float64) ** 2, axis=(2, 3))
    np.testing.assert_allclose(energy_fourier, energy_real, rtol=1e-5)
    ref = far_field_amplitude(psi.astype(np.complex128))
    assert np.max(np.abs(amp - ref)) <= 1e-5 * np.max(ref)
    flat = tp.FarFieldAmplitude(N)(torch.ones(1, 1, N, N, dtype=torch.complex64)).numpy()[0, 0]
    assert flat[N // 2, N // 2] == pytest.approx(N, rel=1e-6)  # all energy (N²) at the zero frequency
    assert np.count_nonzero(flat > 1e-3) == 1


@pytest.mark.parametrize("sigma,mask", [(0.0, False), (0.8, False), (0.0, True), (1.3, True)])
def test_illumination_matches_numpy_reference(sigma, mask):
    rng = np.random.default_rng(4)
    probe = normalise_probe(_patches(rng, 1, 1)[0, 0], 4.0)
    z = _patches(rng, 2, 4)
    layer = tp.ProbeIllumination(N, probe, gaussian_smoothing_sigma=sigma, probe_mask=mask)
    psi = layer(torch.from_numpy(z)).numpy()
    ref = illuminate(z.reshape(-1, N, N).astype(np.complex128), probe.astype(np.complex128), sigma, mask)
    assert np.max(np.abs(psi.reshape(-1, N, N) - ref)) <= 1e-5 * np.max(np.abs(ref))
    if mask:
        outside = probe_mask(N) == 0
        assert not psi[..., outside].any()


def test_probe_parameters_and_trainability():
    probe = (np.ones((N, N)) * (1 + 2j)).astype(np.complex64)
    frozen = tp.ProbeIllumination(N, probe, probe_trainable=False)
    trainable = tp.ProbeIllumination(N, probe, probe_trainable=True)
    assert frozen.probe_real.dtype == torch.float32 and frozen.probe_real.shape == (1, 1, N, N)
    assert not frozen.probe_real.requires_grad and trainable.probe_imag.requires_grad
    np.testing.assert_array_equal(trainable.probe(), probe)
    with pytest.raises(ValueError, match=r"\(64, 64\)"):
        tp.ProbeIllumination(N, np.ones((32, 32), np.complex64))


def test_intensity_scaler_shares_w_and_follows_trainable_flag():
    s = 37.5
    scaler = tp.IntensityScaler(s, trainable=True)
    assert scaler.log_scale.dtype == torch.float32
    assert float(scaler.log_scale.detach()) == pytest.approx(np.log(s), rel=1e-7)
    x = torch.full((2, 1, 4, 4), 3.0)
    np.testing.assert_allclose(scaler(x).detach().numpy(), 3.0 / s, rtol=1e-6)
    np.testing.assert_allclose(scaler(x, inverse=True).detach().numpy(), 3.0 * s, rtol=1e-6)
    assert scaler.scale() == pytest.approx(s, rel=1e-6)
    assert not tp.IntensityScaler(s, trainable=False).log_scale.requires_grad
    with pytest.raises(ValueError, match="initial_scale"):
        tp.IntensityScaler(0.0)


def test_safe_ops_have_finite_gradients_at_zero():
    x = torch.tensor([0.0, 4.0], requires_grad=True)
    tp.safe_sqrt(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.25])
    re = torch.tensor([0.0, 3.0], requires_grad=True)
    im = torch.tensor([0.0, 4.0], requires_grad=True)
    mag, ang = tp.safe_abs_angle(torch.complex(re, im))
    np.testing.assert_allclose(mag.detach().numpy(), [0.0, 5.0])
    np.testing.assert_allclose(ang.detach().numpy(), [0.0, np.arctan2(4, 3)], rtol=1e-6)
    (mag + ang).sum().backward()
    assert np.all(np.isfinite(re.grad.numpy())) and re.grad[0] == 0 and im.grad[0] == 0
