"""Physics layers (physics §5, §6.2, §8) vs the NumPy references of ptychopinn_plugin.physics."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.tf

from ptychopinn_plugin.backends.tf.models import build_models, model_probe  # noqa: E402
from ptychopinn_plugin.backends.tf.physics_layers import (  # noqa: E402
    ExtractPatches,
    FarFieldAmplitude,
    ObjectAssembly,
    ProbeIllumination,
    TrimObject,
)
from ptychopinn_plugin.config import ModelConfig  # noqa: E402
from ptychopinn_plugin.physics import default_probe, normalise_probe, probe_mask  # noqa: E402
from ptychopinn_plugin.physics.object_big import extract_from_canvas, merge_group_patches  # noqa: E402
from ptychopinn_plugin.physics.pipeline import forward_reference  # noqa: E402
from ptychopinn_plugin.physics.probe import illuminate  # noqa: E402

N = 64


def _close(actual, expected, tol=1e-5):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    err = np.max(np.abs(actual - expected))
    assert err <= tol * np.max(np.abs(expected)), f"max error {err} vs scale {np.max(np.abs(expected))}"


def _patches(b, c, seed=0):
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.2, 1.0, size=(b, N, N, c))
    phase = rng.uniform(-np.pi, np.pi, size=(b, N, N, c))
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def _offsets(b, c, seed=1, spread=3.0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(-spread, spread, size=(b, 1, 2, c))
    p = np.round(p * 64) / 64  # exactly representable in float32
    return (-(p - p.mean(axis=3, keepdims=True))).astype(np.float32)


def test_object_big_merge_and_extraction_match_reference_without_cross_group_mixing():
    b, c, p = 16, 4, 78  # B·C = 64 images (the original merged all groups at B·C >= 64)
    patches = _patches(b, c)
    r = _offsets(b, c)
    assembly = ObjectAssembly(N, p, c, object_big=True)
    canvas = assembly(tf.constant(patches), tf.constant(r)).numpy()
    assert canvas.shape == (b, p, p, 1) and canvas.dtype == np.complex64
    reference = merge_group_patches(patches.astype(np.complex128), r.astype(np.float64), p)
    _close(canvas[..., 0], reference)

    # Each group's canvas is independent of the other groups in the batch.
    for group in (0, 7, 15):
        alone = assembly(tf.constant(patches[group : group + 1]), tf.constant(r[group : group + 1])).numpy()
        np.testing.assert_allclose(alone[0], canvas[group], rtol=1e-6, atol=1e-6)

    extracted = ExtractPatches(N, c)(tf.constant(canvas), tf.constant(r)).numpy()
    assert extracted.shape == (b, N, N, c)
    ref_flat = extract_from_canvas(reference, r.astype(np.float64), N)  # (B·C, N, N) group-major
    ref = np.moveaxis(ref_flat.reshape(b, c, N, N), 1, 3)
    _close(extracted, ref)

    trimmed = TrimObject(N)(tf.constant(canvas)).numpy()
    np.testing.assert_array_equal(trimmed[..., 0], canvas[:, 7 : 7 + N, 7 : 7 + N, 0])


def test_merge_closed_form_for_integer_offsets():
    # Four members on a 4-px square; member positions relative to the centre are ±2 px.
    c, p = 4, 78
    window = np.zeros((N, N), np.complex64)
    window[N // 4 : 3 * N // 4, N // 4 : 3 * N // 4] = 1
    positions = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])  # (x, y) of members
    r = -(positions - positions.mean(axis=0)).T[None, None].astype(np.float32)  # (1,1,2,4)
    layer = ObjectAssembly(N, p, c)
    # Patches equal to the window: U = K/(K + 0.001) with K = number of covering windows.
    canvas = layer(tf.constant(np.repeat(window[None, :, :, None], c, axis=3)), tf.constant(r)).numpy()[0, ..., 0]
    centre = p // 2
    assert canvas[centre, centre] == pytest.approx(4 / 4.001, rel=1e-6)
    # member 0 sits at (-2, -2): its window covers canvas [7+16-2, 7+48-2) = [21, 53) alone at (21, 21)
    assert canvas[21, 21] == pytest.approx(1 / 1.001, rel=1e-6)
    assert canvas[21, 25] == pytest.approx(2 / 2.001, rel=1e-6)  # members 0 and 1
    assert canvas[20, 20] == 0
    # Content outside every window is divided by 0.001 (the original's x1000 border gain).
    ones = layer(tf.constant(np.ones((1, N, N, c), np.complex64)), tf.constant(r)).numpy()[0, ..., 0]
    assert ones[20, 20].real == pytest.approx(4 / 0.001, rel=1e-5)
    assert ones[21, 21].real == pytest.approx(4 / 1.001, rel=1e-6)


def test_object_big_false_pads_single_channel_and_extracts_per_member():
    b, c, p = 3, 4, 78
    obj = _patches(b, 1, seed=3)
    r = _offsets(b, c, seed=4)
    canvas = ObjectAssembly(N, p, c, object_big=False)(tf.constant(obj), tf.constant(r)).numpy()
    np.testing.assert_array_equal(TrimObject(N)(tf.constant(canvas)).numpy(), obj)
    extracted = ExtractPatches(N, c)(tf.constant(canvas), tf.constant(r)).numpy()
    ref = extract_from_canvas(canvas[..., 0], r.astype(np.float64), N)
    _close(extracted, np.moveaxis(ref.reshape(b, c, N, N), 1, 3))
    with pytest.raises(ValueError, match="channels"):
        ObjectAssembly(N, p, c, object_big=False)(tf.constant(_patches(b, 2)), tf.constant(r))


def test_far_field_matches_numpy_fft_and_conserves_energy():
    rng = np.random.default_rng(5)
    psi = (rng.normal(size=(3, N, N, 2)) + 1j * rng.normal(size=(3, N, N, 2))).astype(np.complex64)
    amp = FarFieldAmplitude(N)(tf.constant(psi)).numpy()
    assert amp.shape == psi.shape and amp.dtype == np.float32
    for b in range(3):
        for c in range(2):
            spectrum = np.fft.fft2(psi[b, :, :, c].astype(np.complex128))
            ref = np.sqrt(np.fft.fftshift(np.abs(spectrum) ** 2 / N**2))
            _close(amp[b, :, :, c], ref, tol=2e-6)
    # Parseval: Σ A² = Σ |ψ|² per pattern
    np.testing.assert_allclose((amp.astype(np.float64) ** 2).sum(axis=(1, 2)),
                               (np.abs(psi.astype(np.complex128)) ** 2).sum(axis=(1, 2)), rtol=1e-5)
    # A point source gives a flat amplitude 1/N; a flat field puts everything at (N/2, N/2)
    point = np.zeros((1, N, N, 1), np.complex64)
    point[0, 5, 9, 0] = 1.0
    np.testing.assert_allclose(FarFieldAmplitude(N)(tf.constant(point)).numpy(), 1.0 / N, rtol=1e-6)
    flat = FarFieldAmplitude(N)(tf.constant(np.ones((1, N, N, 1), np.complex64))).numpy()[0, ..., 0]
    assert flat[N // 2, N // 2] == pytest.approx(N, rel=1e-6)
    assert np.sum(flat) == pytest.approx(N, rel=1e-5)


@pytest.mark.parametrize("sigma,mask", [(0.0, False), (0.8, False), (0.0, True), (1.3, True)])
def test_probe_illumination_matches_reference(sigma, mask):
    probe = normalise_probe(default_probe(N).astype(np.complex64) * np.exp(0.3j))
    z = _patches(2, 3, seed=6)
    layer = ProbeIllumination(N, gaussian_smoothing_sigma=sigma, probe_mask=mask, initial_probe=probe)
    out = layer(tf.constant(z)).numpy()
    flat = np.moveaxis(z, 3, 1).reshape(6, N, N)
    ref = illuminate(flat, probe, sigma, mask)
    _close(out, np.moveaxis(ref.reshape(2, 3, N, N), 1, 3))
    np.testing.assert_array_equal(layer.probe(), probe)
    if mask:
        assert np.all(out[:, probe_mask(N) == 0, :] == 0)


def test_probe_normalisation_is_consistent_inside_the_model():
    raw = default_probe(N).astype(np.complex64) * 7.5
    probe = normalise_probe(raw, probe_scale=4.0)
    assert np.mean(np.abs(probe_mask(N) * probe)) == pytest.approx(1 / 4.0, rel=1e-6)
    ae, _ = build_models(ModelConfig(N=N, n_filters_scale=1), intensity_scale=3.0, probe=probe, seed=0)
    np.testing.assert_array_equal(model_probe(ae), probe)
    with pytest.raises(ValueError, match=r"\(32, 32\)"):
        build_models(ModelConfig(N=N), intensity_scale=3.0, probe=probe[:32, :32], seed=0)


@pytest.mark.parametrize(
    "g,kw",
    [(2, {}), (2, {"gaussian_smoothing_sigma": 0.7, "probe_mask": True}), (1, {}), (2, {"object_big": False})],
)
def test_autoencoder_physics_matches_numpy_pipeline(g, kw):
    cfg = ModelConfig(N=N, gridsize=g, n_filters_scale=1, **kw)
    c = g * g
    probe = normalise_probe(default_probe(N).astype(np.complex64) * np.exp(0.5j))
    s = 5.0
    ae, _ = build_models(cfg, intensity_scale=s, probe=probe, seed=3)
    ae.get_layer("intensity_scaler").log_scale.assign(np.log(s) + 0.25)  # w ≠ log s
    b = 4
    rng = np.random.default_rng(7)
    x = (s * rng.random((b, N, N, c))).astype(np.float32)
    r = _offsets(b, c, seed=8)
    patches_model = keras.Model(ae.inputs, ae.get_layer("object_patches").output)
    patches = patches_model.predict_on_batch([x, r])
    obj, amp, inten = ae.predict_on_batch([x, r])
    ref = forward_reference(
        patches.astype(np.complex128), r.astype(np.float64), probe.astype(np.complex128), np.log(s) + 0.25,
        canvas_size=N + (g - 1) * 4 + 10, object_big=cfg.object_big,
        gaussian_smoothing_sigma=cfg.gaussian_smoothing_sigma, probe_mask=cfg.probe_mask,
    )
    _close(obj, ref.trimmed_obj)
    _close(amp, ref.pred_amp_scaled)
    _close(inten, ref.pred_intensity)
