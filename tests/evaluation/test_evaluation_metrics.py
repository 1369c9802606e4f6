"""``eval_reconstruction`` (physics §11): identities, degradations, gauges, registration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from ptychopinn_plugin.evaluation import METRIC_NAMES, eval_reconstruction
from ptychopinn_plugin.evaluation.alignment import align_phase
from ptychopinn_plugin.evaluation.ssim import MS_SSIM_WEIGHTS, ms_ssim
from ptychopinn_plugin.simulation import make_object


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return make_object(96, 11)


def _blur(obj: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(obj.real, sigma) + 1j * ndimage.gaussian_filter(obj.imag, sigma)


def _fourier_shift(img: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    return np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(img), shift))


def test_identity_scores_perfectly(truth):
    m = eval_reconstruction(truth, truth)
    assert set(METRIC_NAMES) <= set(m)
    n_eval = 96 - 2 * 2  # default eval_border 2
    n_rings = round(math.hypot(n_eval // 2, n_eval // 2)) + 1  # corner rings included
    for channel in (0, 1):
        assert m["mae"][channel] == 0.0 and m["mse"][channel] == 0.0
        assert m["psnr"][channel] == math.inf and m["psnr_legacy"][channel] == math.inf
        assert m["ssim"][channel] == pytest.approx(1.0, abs=1e-9)
        assert m["ms_ssim"][channel] == pytest.approx(1.0, abs=1e-9)
        assert m["frc50"][channel] == n_rings and m["frc1over7"][channel] == n_rings
        assert len(m["frc"][channel]) == n_rings
        np.testing.assert_allclose(m["frc"][channel], 1.0, atol=1e-9)
    assert m["registration_shift"] == (0.0, 0.0)


def test_blur_lowers_scores_monotonically(truth):
    """Blurred copies (with one fixed, faint noise floor) score lower the more they are blurred.

    The noise floor matters for FRC only: FRC is invariant to a radial filter, so a
    noise-free blurred copy keeps FRC ≈ 1 in every ring however strong the blur.
    """
    rng = np.random.default_rng(0)
    noise = 0.005 * (rng.standard_normal(truth.shape) + 1j * rng.standard_normal(truth.shape))
    sharp = eval_reconstruction(truth + noise, truth)
    light = eval_reconstruction(_blur(truth, 0.7) + noise, truth)
    heavy = eval_reconstruction(_blur(truth, 1.5) + noise, truth)
    for channel in (0, 1):
        assert 0.3 < heavy["ssim"][channel] < light["ssim"][channel] < sharp["ssim"][channel] < 1.0
        assert heavy["psnr"][channel] < light["psnr"][channel] < sharp["psnr"][channel]
        assert heavy["ms_ssim"][channel] < light["ms_ssim"][channel] < sharp["ms_ssim"][channel]
        assert heavy["frc50"][channel] < light["frc50"][channel] < sharp["frc50"][channel]
        assert heavy["frc1over7"][channel] <= light["frc1over7"][channel] <= sharp["frc1over7"][channel]
        assert heavy["mae"][channel] > light["mae"][channel] > sharp["mae"][channel] > 0
    assert all(abs(s) <= 0.1 for s in heavy["registration_shift"])  # blur is symmetric: no shift
    # Noise-free blur: SSIM/PSNR still drop.
    clean = eval_reconstruction(_blur(truth, 1.0), truth)
    assert max(clean["ssim"]) < 0.95 and max(clean["psnr"]) < 40


def test_plane_alignment_removes_phase_offset_ramp_and_amplitude_scale(truth):
    rows, cols = truth.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    ramp = 0.7 + 0.008 * xx - 0.006 * yy  # stays inside (−π, π) together with the object phase
    recon = 3.0 * truth * np.exp(1j * ramp)
    m = eval_reconstruction(recon, truth, register=False)
    for channel in (0, 1):
        assert m["mae"][channel] < 1e-5
        assert m["ssim"][channel] == pytest.approx(1.0, abs=1e-6)
        assert m["psnr"][channel] > 90
    # 'mean' removes the offset but not the ramp.
    m_mean = eval_reconstruction(recon, truth, register=False, phase_align_method="mean")
    assert m_mean["mae"][1] > 0.05 and m_mean["ssim"][1] < m["ssim"][1]
    offset_only = eval_reconstruction(truth * np.exp(-2.0j), truth, register=False, phase_align_method="mean")
    assert offset_only["mae"][1] < 1e-6


@pytest.mark.parametrize("offset", [np.pi, -2.9, 3.0])
def test_a_global_phase_offset_near_pi_scores_like_the_truth(truth, offset):
    """A model may settle at any global phase (the loss is blind to it); near ±π its map
    wraps, and a plane fitted to the wrapped angles would be meaningless.  The evaluation
    measures phase from the field's circular mean first, so only the offset is removed."""
    recon = truth * np.exp(1j * offset)
    wrapped = np.angle(recon)
    assert np.ptp(wrapped) > 5.0  # the raw angles really do wrap around ±π
    for method in ("plane", "mean"):
        m = eval_reconstruction(recon, truth, register=False, phase_align_method=method)
        assert m["mae"][1] < 1e-5 and m["ssim"][1] == pytest.approx(1.0, abs=1e-6), method
    # Without the circular centring (aligning the wrapped angles directly) the score collapses.
    naive = align_phase(wrapped[2:-2, 2:-2])
    target = align_phase(np.angle(truth)[2:-2, 2:-2])
    assert float(np.mean(np.abs(naive - target))) > 0.5


def test_plane_fit_removes_exact_plane():
    yy, xx = np.mgrid[0:20, 0:30]
    np.testing.assert_allclose(align_phase(0.3 + 0.01 * xx + 0.02 * yy, "plane"), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="phase_align_method"):
        align_phase(np.zeros((4, 4)), "median")


@pytest.mark.parametrize("shift", [(3.0, -2.0), (0.3, -1.7), (-0.45, 0.25)])
def test_registration_recovers_known_shift(shift):
    big = make_object(180, 2)
    moved = _fourier_shift(big, shift)  # content moved by +shift (periodic, then cropped away from edges)
    truth, recon = big[40:140, 40:140], moved[40:140, 40:140]
    m = eval_reconstruction(recon, truth)
    dy, dx = m["registration_shift"]
    assert abs(dy + shift[0]) < 0.05 and abs(dx + shift[1]) < 0.05  # the shift that undoes it
    unregistered = eval_reconstruction(recon, truth, register=False)
    assert m["ssim"][0] > unregistered["ssim"][0] and m["ssim"][0] > 0.95
    assert unregistered["registration_shift"] is None


def test_canvas_footprint_crop_uses_spec_geometry():
    """A canvas whose pixel k shows object coordinate com + k − P/2 (physics §10 item 6)."""
    big = make_object(160, 4)
    p = 64
    com = (81.0, 77.0)  # integer: canvas is an exact crop starting at floor(com − P/2 + 0.5)
    canvas = big[77 - 32 : 77 + 32, 81 - 32 : 81 + 32]
    m = eval_reconstruction(canvas, big, canvas_com=com)
    assert m["mae"] == (0.0, 0.0) and m["registration_shift"] == (0.0, 0.0)
    # Fractional com: first index rounds to nearest, the residual (≤ 0.5 px) is measured.
    com = (81.3, 76.6)
    row0, col0 = math.floor(com[1] - p / 2 + 0.5), math.floor(com[0] - p / 2 + 0.5)
    delta = (com[1] - p / 2 - row0, com[0] - p / 2 - col0)
    shifted = _fourier_shift(big, (-delta[0], -delta[1]))  # shifted(r) = big(r + δ)
    canvas = shifted[row0 : row0 + p, col0 : col0 + p]
    m = eval_reconstruction(canvas, big, canvas_com=com)
    assert m["registration_shift"] == pytest.approx(delta, abs=0.05)
    assert m["ssim"][0] > 0.98 and m["ssim"][1] > 0.98
    # A wrong com lands on a different region of the object: much worse without registration.
    wrong = eval_reconstruction(canvas, big, canvas_com=(com[0] + 10, com[1]), register=False)
    assert wrong["ssim"][0] < 0.5


def test_closed_form_mae_mse_psnr_and_ssim_against_skimage():
    rng = np.random.default_rng(0)
    amp_t = 0.6 + 0.4 * rng.random((40, 40))
    ph_t = rng.uniform(-1, 1, (40, 40))
    checker = np.where((np.indices((40, 40)).sum(axis=0) % 2) == 0, 1.0, -1.0)  # zero mean
    eps_a, eps_p = 0.01, 0.03
    truth = amp_t * np.exp(1j * ph_t)
    recon = (amp_t + eps_a * checker) * np.exp(1j * (ph_t + eps_p * checker))
    m = eval_reconstruction(recon, truth, register=False, eval_border=0, phase_align_method="mean")
    assert m["mae"] == pytest.approx((eps_a, eps_p), rel=1e-9)
    assert m["mse"] == pytest.approx((eps_a**2, eps_p**2), rel=1e-9)
    r_amp = amp_t.max() - amp_t.min()
    ph_aligned = ph_t - ph_t.mean()
    r_ph = ph_aligned.max() - ph_aligned.min()
    assert m["psnr"][0] == pytest.approx(10 * math.log10(r_amp**2 / eps_a**2), rel=1e-9)
    assert m["psnr"][1] == pytest.approx(10 * math.log10(r_ph**2 / eps_p**2), rel=1e-9)
    assert m["psnr_legacy"][0] == pytest.approx(20 * math.log10(255 / eps_a), rel=1e-9)
    ref_amp = structural_similarity(amp_t, amp_t + eps_a * checker, data_range=r_amp)
    unit = lambda p: (p + np.pi) / (2 * np.pi)  # noqa: E731
    ref_ph = structural_similarity(unit(ph_aligned), unit(ph_aligned + eps_p * checker), data_range=1.0)
    assert m["ssim"] == pytest.approx((ref_amp, ref_ph), rel=1e-9)


def test_ms_ssim_identity_is_one_and_levels_follow_the_spec():
    rng = np.random.default_rng(3)
    img = ndimage.gaussian_filter(rng.random((40, 40)), 1.5)
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    noisy = img + 0.02 * rng.standard_normal(img.shape)
    # Reference from the spec text: one data range, keep every 2nd pixel, stop below 7 px
    # (40 → 20 → 10 → 5: three levels), clamp negatives, product of ssim^w.
    rng_ = max(np.ptp(img), np.ptp(noisy))
    a, b, expected = img, noisy, 1.0
    for w in MS_SSIM_WEIGHTS[:3]:
        expected *= max(structural_similarity(a, b, data_range=rng_), 1e-4) ** w
        a, b = a[::2, ::2], b[::2, ::2]
    assert ms_ssim(img, noisy) == pytest.approx(expected, rel=1e-12)
    # Anti-correlated images: negative level SSIM clamps to 1e-4 instead of a complex power.
    assert 0.0 < ms_ssim(img, 2 * img.mean() - img) < 0.01


def test_bad_inputs_raise_clear_errors(truth):
    with pytest.raises(ValueError, match="2-D"):
        eval_reconstruction(np.zeros((2, 3, 4)), truth)
    with pytest.raises(ValueError, match="non-finite"):
        bad = truth.copy()
        bad[0, 0] = np.nan
        eval_reconstruction(bad, truth)
    with pytest.raises(ValueError, match="does not overlap"):
        eval_reconstruction(truth[:20, :20], truth, canvas_com=(500.0, 500.0))
    with pytest.raises(ValueError, match="mean"):
        eval_reconstruction(np.zeros_like(truth), truth, register=False)
    with pytest.raises(ValueError, match="eval_border"):
        eval_reconstruction(truth, truth, eval_border=-1)
    with pytest.raises(ValueError, match="at least 7"):
        eval_reconstruction(truth[:10, :10], truth[:10, :10], eval_border=2)
    # (P, P, 1) canvases from stitching are accepted.
    assert eval_reconstruction(truth[..., None], truth)["mae"] == (0.0, 0.0)


def test_stitched_ground_truth_patches_land_on_the_canvas_footprint():
    """Integration of the conventions: simulate (patch pixel N/2 on the position), stitch
    the true patches by physics §10 (written out here with the shared T_d), evaluate with
    the canvas centre of mass: the residual registration shift must be a small fraction of
    a pixel (a sign or half-pixel error in any convention would show up as ≥ 0.5 px)."""
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset
    from ptychopinn_plugin.util.bilinear import translate

    ds = simulate_dataset(SimulationConfig(n_positions=64, object_size=130, seed=5))
    n, m = 64, 20
    crops = ds.Y[:, n // 2 - m // 2 : n // 2 + m // 2, n // 2 - m // 2 : n // 2 + m // 2]
    q = np.stack([ds.xcoords, ds.ycoords], axis=1)
    com = q.mean(axis=0)
    offsets = q - com
    pad = math.ceil(np.abs(offsets).max())
    pad += pad % 2
    p = m + 2 * pad
    padded = np.zeros((len(q), p, p), np.complex64)
    padded[:, pad : pad + m, pad : pad + m] = crops
    ones = np.zeros((len(q), p, p), np.float32)
    ones[:, pad : pad + m, pad : pad + m] = 1
    canvas = translate(padded, offsets).sum(axis=0) / (translate(ones, offsets).sum(axis=0) + 1e-9)
    result = eval_reconstruction(canvas, ds.objectGuess, canvas_com=(com[0], com[1]))
    assert np.hypot(*result["registration_shift"]) < 0.15
    assert result["ssim"][1] > 0.9
