"""Train → save → open → infer through the library API with the TensorFlow backend (api §6, §8).

Tiny runs (n_filters_scale 1, 64 groups, 1 epoch): the point is the plumbing — results,
archive round trip with identical predictions, stitching that covers the scan, dispatch
and backend checks — not reconstruction quality.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.tf, pytest.mark.slow]

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, TrainingConfig, legacy_params  # noqa: E402
from ptychopinn_plugin.physics import stitch_patches  # noqa: E402
from ptychopinn_plugin.util.progress import CallbackMonitor  # noqa: E402
from ptychopinn_plugin.workflows import RESULT_KEYS, load_data  # noqa: E402

NPHOTONS = 1e6


def _config(gridsize: int, output_dir) -> TrainingConfig:
    return TrainingConfig(model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1), nepochs=1, batch_size=16,
                          n_groups=64, nphotons=NPHOTONS, seed=7, output_dir=output_dir)


@pytest.fixture(scope="module", params=[1, 2], ids=["gridsize1", "gridsize2"])
def trained(request, tiny_dataset_dir, tmp_path_factory):
    """One training per gridsize through the dispatcher; the archive is saved right after."""
    from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend
    from ptychopinn_plugin.workflows.inference import current_predictor
    from ptychopinn_plugin.workflows.session import clear_current_model, current_model, save_model

    gridsize = request.param
    out = tmp_path_factory.mktemp(f"train_g{gridsize}")
    train = load_data(tiny_dataset_dir / "train_data.npz")
    test = load_data(tiny_dataset_dir / "test_data.npz")
    monitor = CallbackMonitor()
    cfg = _config(gridsize, out)
    amp, phase, results = run_cdi_example_with_backend(train, test, cfg, do_stitching=True, monitor=monitor)
    model = current_model()
    before = current_predictor()
    archive = save_model(out / "model", model)
    params_after_training = {key: legacy_params.cfg.get(key) for key in ("intensity_scale", "probe", "gridsize")}
    clear_current_model()
    return dict(gridsize=gridsize, cfg=cfg, amp=amp, phase=phase, results=results, model=model, before=before,
                archive=archive, monitor=monitor, test=test, params=params_after_training)


def test_results_dictionary_and_training_record(trained):
    results, cfg = trained["results"], trained["cfg"]
    assert set(results) == set(RESULT_KEYS)
    assert results["backend"] == "tensorflow"
    s = math.sqrt(NPHOTONS) / 32
    assert results["intensity_scale"] == pytest.approx(s, rel=1e-12)
    assert math.isfinite(results["intensity_scale_trained"])
    history = results["history"]
    assert len(history["loss"]) == cfg.nepochs and "val_loss" in history and history["train_loss"] == history["loss"]
    assert results["history_epochs"] == list(range(cfg.nepochs))
    assert [e for e, _ in trained["monitor"].epochs] == list(range(cfg.nepochs))  # monitor passed through
    assert trained["monitor"].epochs[-1][1]["loss"] == pytest.approx(history["loss"][-1])
    assert results["model_instance"] is trained["model"].autoencoder
    g, b_train = trained["gridsize"], len(results["train_container"])
    assert b_train == 64 and results["train_container"].X.shape[3] == g * g
    m = len(trained["test"])
    assert len(results["test_container"]) == m  # test data: one group per scan position
    assert results["reconstructed_obj"].shape == (m, 64, 64, 1) and results["reconstructed_obj"].dtype == np.complex64
    assert results["pred_amp"].shape == (m, 64, 64, g * g)
    np.testing.assert_allclose(results["reconstructed_obj_cdi"], results["pred_amp"] ** 2, rtol=1e-4)
    # params.cfg compatibility keys written by run_cdi_example
    assert trained["params"]["intensity_scale"] == pytest.approx(s)
    assert trained["params"]["gridsize"] == g
    np.testing.assert_array_equal(trained["params"]["probe"][..., 0], trained["model"].probe)


def test_model_probe_is_the_normalised_training_probe(trained, tiny_dataset_dir):
    from ptychopinn_plugin.physics import normalise_probe, probe_mask

    raw_probe = load_data(tiny_dataset_dir / "train_data.npz").probeGuess
    probe = trained["model"].probe
    assert probe.shape == (64, 64) and probe.dtype == np.complex64
    np.testing.assert_allclose(probe, normalise_probe(raw_probe, 4.0), rtol=1e-6, atol=1e-7)
    assert float(np.mean(np.abs(probe_mask(64) * probe))) == pytest.approx(1 / 4.0, rel=1e-5)


def test_stitched_reconstruction_covers_the_scan(trained):
    results, amp, phase = trained["results"], trained["amp"], trained["phase"]
    container = results["test_container"]
    q = container.global_offsets[:, 0, :, 0]
    com = q.mean(axis=0)
    pad = math.ceil(np.abs(q - com).max())
    pad += pad % 2
    assert amp.shape == phase.shape == (20 + 2 * pad, 20 + 2 * pad)
    np.testing.assert_allclose(results["stitched_obj"][..., 0], amp * np.exp(1j * phase), atol=1e-5)
    reference = stitch_patches(results["reconstructed_obj"], container.global_offsets, M=20).image[..., 0]
    np.testing.assert_allclose(amp, np.abs(reference), atol=1e-5 * np.abs(reference).max())
    # every scan position falls on a covered canvas pixel (physics §10 item 6 geometry)
    test = trained["test"]
    cols = np.rint(test.xcoords - com[0] + amp.shape[1] / 2).astype(int)
    rows = np.rint(test.ycoords - com[1] + amp.shape[0] / 2).astype(int)
    assert rows.min() >= 0 and cols.min() >= 0 and rows.max() < amp.shape[0] and cols.max() < amp.shape[1]
    assert np.all(amp[rows, cols] > 0)
    assert results["obj_tensor_full"] is results["reconstructed_obj"]
    np.testing.assert_array_equal(results["global_offsets"], container.global_offsets)


def test_archive_round_trip_predicts_identically(trained):
    from ptychopinn_plugin.workflows.inference import load_archive, load_predictor, predictor_from_archive

    container = trained["results"]["test_container"]
    before = trained["before"].predict_normalised(container.X, container.coords_nominal)
    np.testing.assert_allclose(before, trained["results"]["reconstructed_obj"], rtol=1e-5,
                               atol=1e-6 * np.abs(before).max())
    predictor, loaded = load_predictor(trained["archive"].parent)
    assert loaded.backend == "tensorflow" and list(loaded.models) == ["diffraction_to_obj"]
    assert loaded.intensity_scale == pytest.approx(trained["results"]["intensity_scale"], rel=0)
    assert loaded.model_config == trained["cfg"].model
    assert loaded.training_config.nepochs == trained["cfg"].nepochs
    assert loaded.manifest["completed"] is True
    np.testing.assert_array_equal(loaded.probe, trained["model"].probe)
    after = predictor.predict_normalised(container.X, container.coords_nominal)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-7 * np.abs(before).max())
    # The Keras-style call takes s·X.
    s = np.float32(loaded.intensity_scale)
    np.testing.assert_allclose(predictor.predict([container.X * s, container.coords_nominal]), after, rtol=1e-6,
                               atol=1e-7 * np.abs(after).max())
    full = load_archive(trained["archive"])  # every model, typed, no side effects
    assert set(full.models) == {"autoencoder", "diffraction_to_obj"}
    assert legacy_params.cfg.get("intensity_scale") is None
    np.testing.assert_allclose(predictor_from_archive(full).predict_normalised(container.X, container.coords_nominal),
                               before, rtol=1e-6, atol=1e-7 * np.abs(before).max())


def test_channel_mismatch_names_the_trained_gridsize(trained):
    from ptychopinn_plugin.workflows.inference import load_predictor

    predictor, _ = load_predictor(trained["archive"])
    g = trained["gridsize"]
    wrong = 2 if g == 1 else 1
    x = np.zeros((2, 64, 64, wrong * wrong), dtype=np.float32)
    with pytest.raises(ValueError) as info:
        predictor.predict([x, np.zeros((2, 1, 2, wrong * wrong))])
    assert f"gridsize={g}" in str(info.value) and f"{wrong * wrong} channels" in str(info.value)


def test_dispatch_loading_requires_the_archive_backend(trained):
    from ptychopinn_plugin.archive import ArchiveBackendMismatchError
    from ptychopinn_plugin.workflows.backend_selector import load_inference_bundle_with_backend

    bundle = trained["archive"].parent
    cfg = InferenceConfig(model=ModelConfig(N=64, gridsize=trained["gridsize"]), model_path=bundle,
                          test_data_file=bundle, backend="pytorch")
    with pytest.raises(ArchiveBackendMismatchError) as info:
        load_inference_bundle_with_backend(bundle, cfg)
    assert "tensorflow" in str(info.value) and "pytorch" in str(info.value)
    cfg.backend = "tensorflow"
    model, params = load_inference_bundle_with_backend(bundle, cfg)
    assert params["intensity_scale"] == pytest.approx(trained["results"]["intensity_scale"])
    assert params["N"] == 64 and params["gridsize"] == trained["gridsize"]
    raw_model, _ = load_inference_bundle_with_backend(bundle, cfg, model_name="autoencoder")
    assert len(raw_model.outputs) == 3  # the Keras autoencoder itself


def test_reassemble_cdi_image_uses_the_current_model(trained, tiny_dataset_dir):
    from ptychopinn_plugin.workflows.components import load_inference_bundle, reassemble_cdi_image

    load_inference_bundle(trained["archive"].parent)  # becomes the current model
    cfg = trained["cfg"]
    amp, phase, extra = reassemble_cdi_image(trained["test"], cfg, M=20)
    np.testing.assert_allclose(amp, trained["amp"], rtol=1e-5, atol=1e-6 * trained["amp"].max())
    assert set(extra) == {"obj_tensor_full", "global_offsets", "recon_amp", "recon_phase"}
    amp_flip, _, extra_flip = reassemble_cdi_image(trained["test"], cfg, flip_x=True, M=20, keep_patches=False)
    assert extra_flip["obj_tensor_full"] is None
    np.testing.assert_array_equal(extra_flip["global_offsets"][:, 0, 0, 0], -extra["global_offsets"][:, 0, 0, 0])
    assert amp_flip.shape == amp.shape


def test_supervised_training_needs_ground_truth(tiny_dataset_dir):
    from ptychopinn_plugin.data import RawData
    from ptychopinn_plugin.workflows.components import train_cdi_model

    full = load_data(tiny_dataset_dir / "train_data.npz")
    no_truth = RawData.from_coords_without_pc(full.xcoords, full.ycoords, full.diff3d, full.probeGuess,
                                              full.scan_index)
    cfg = TrainingConfig(model=ModelConfig(N=64, model_type="supervised", n_filters_scale=1), nepochs=1, n_groups=32)
    with pytest.raises(ValueError, match="ground-truth"):
        train_cdi_model(no_truth, None, cfg)
