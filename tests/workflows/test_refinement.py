"""Physics refinement of a stitched object (issue #13): torch extraction parity, the misfit
falls and the object moves towards the truth, zero iterations change nothing, stop-and-keep."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.config import RefinementConfig
from ptychopinn_plugin.physics.stitching import PatchStitcher
from ptychopinn_plugin.simulation import SimulationConfig
from ptychopinn_plugin.simulation.dataset import simulate_dataset
from ptychopinn_plugin.util.bilinear import extract_patches, sample_shifted
from ptychopinn_plugin.workflows.consistency import (
    ForwardSetup,
    ScanPatterns,
    flat_outcome_like,
    refine_reconstruction,
)
from ptychopinn_plugin.workflows.stitching import StitchOutcome

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

N = 64


@pytest.fixture(scope="module")
def sample():
    return simulate_dataset(SimulationConfig(N=N, object_size=128, n_positions=64, seed=5, nphotons=1e6), stream=1)


def _outcome(sample, patches: np.ndarray) -> StitchOutcome:
    offsets = np.stack([sample.xcoords, sample.ycoords], axis=1).reshape(-1, 1, 2, 1)
    stitcher = PatchStitcher(offsets, N=N, M=20)
    stitcher.add(patches)
    result = stitcher.result()
    return StitchOutcome(image=result.image, geometry=result.geometry, global_offsets=offsets, patches=None)


def _relative_error(outcome: StitchOutcome, truth: np.ndarray) -> float:
    """``min_c ||c·O − T|| / ||T||`` over the well-covered centre of the canvas (gauge removed)."""
    origin_x, origin_y = outcome.geometry.origin_xy
    side = outcome.geometry.canvas_size
    target = sample_shifted(truth[None].astype(np.complex128), np.array([origin_y]), np.array([origin_x]),
                            (side, side))[0]
    obj = outcome.object.astype(np.complex128)
    window = (slice(side // 4, 3 * side // 4),) * 2
    o, t = obj[window].ravel(), target[window].ravel()
    c = np.vdot(o, t) / np.vdot(o, o)
    return float(np.linalg.norm(c * o - t) / np.linalg.norm(t))


def test_torch_extraction_matches_numpy_bilinear():
    from ptychopinn_plugin.backends.torch.refine import _Extractor

    rng = np.random.default_rng(0)
    frame = (rng.normal(size=(90, 100)) + 1j * rng.normal(size=(90, 100))).astype(np.complex64)
    x = rng.uniform(-5, 105, size=7)
    y = rng.uniform(-5, 95, size=7)
    ours = _Extractor(frame.shape, y - 16, x - 16, 32)(torch.from_numpy(frame), slice(None)).numpy()
    reference = extract_patches(frame, x, y, 32)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-5)


def test_refinement_lowers_the_misfit_and_approaches_the_truth(sample):
    from scipy.ndimage import gaussian_filter

    truth = sample.objectGuess
    # A blurred first guess, as a network gives: right layout, missing detail.
    blurred = gaussian_filter(truth.real, 2.5) + 1j * gaussian_filter(truth.imag, 2.5)
    patches = extract_patches(blurred.astype(np.complex64), sample.xcoords, sample.ycoords, N)[..., None]
    start = _outcome(sample, patches)
    patterns = ScanPatterns(x=sample.xcoords, y=sample.ycoords, diffraction=sample.diffraction)
    forward = ForwardSetup(probe=sample.probeGuess)
    losses = []
    refined = refine_reconstruction(start, patterns, forward, RefinementConfig(iterations=60, threads=2),
                                    progress=lambda i, loss: losses.append((i, loss)) is None)
    assert refined.iterations_done == 60 and not refined.stopped_early and len(losses) == 60
    assert refined.losses[-1] < refined.losses[0]
    before, after = refined.before.summary(), refined.after.summary()
    assert after["deviance_ratio_median"] < 0.5 * before["deviance_ratio_median"]
    assert _relative_error(refined.outcome, truth) < 0.8 * _relative_error(start, truth)
    # Same frame as the stitched canvas, complex64.
    assert refined.outcome.image.shape == start.image.shape and refined.outcome.image.dtype == np.complex64
    assert refined.outcome.geometry == start.geometry


def test_zero_iterations_change_nothing(sample):
    patches = extract_patches(sample.objectGuess, sample.xcoords, sample.ycoords, N)[..., None]
    start = _outcome(sample, patches)
    patterns = ScanPatterns(x=sample.xcoords, y=sample.ycoords, diffraction=sample.diffraction)
    result = refine_reconstruction(start, patterns, ForwardSetup(probe=sample.probeGuess), RefinementConfig())
    assert result.outcome is start and result.after is None and result.iterations_done == 0
    assert "network" in result.summary() and "after_refinement" not in result.summary()


def test_stop_and_keep(sample):
    start = flat_outcome_like(_outcome(sample, extract_patches(sample.objectGuess, sample.xcoords, sample.ycoords,
                                                               N)[..., None]))
    patterns = ScanPatterns(x=sample.xcoords, y=sample.ycoords, diffraction=sample.diffraction)
    result = refine_reconstruction(start, patterns, ForwardSetup(probe=sample.probeGuess),
                                   RefinementConfig(iterations=50), progress=lambda i, loss: i < 3)
    assert result.iterations_done == 3 and result.stopped_early
    assert result.after.summary()["deviance_mean"] < result.before.summary()["deviance_mean"]


def test_refinement_config_is_validated():
    with pytest.raises(ValueError, match="iterations"):
        RefinementConfig(iterations=-1)
    with pytest.raises(ValueError, match="step_size"):
        RefinementConfig(step_size=0)


@pytest.mark.parametrize("sigma,mask", [(0.0, False), (0.5, True)])
def test_refinement_forward_model_is_the_models(sample, sigma, mask):
    """Counts predicted by the NumPy reference forward model (physics §6.2 smoothing with
    reflect padding, the §6.2 mask) are explained exactly: the first misfit is ~0."""
    from ptychopinn_plugin.backends.torch.refine import RefineSettings, refine_object
    from ptychopinn_plugin.physics.consistency import predicted_intensity

    obj = sample.objectGuess
    x, y = sample.xcoords[:16], sample.ycoords[:16]
    counts = 1e4 * predicted_intensity(obj, (0.0, 0.0), x, y, sample.probeGuess, gaussian_smoothing_sigma=sigma,
                                       probe_mask=mask)
    out = refine_object(obj, (0.0, 0.0), x, y, counts, sample.probeGuess, 1e4,
                        RefineSettings(iterations=1, gaussian_smoothing_sigma=sigma, probe_mask=mask))
    assert out.losses[0] < 1e-6 * float(counts.mean())
