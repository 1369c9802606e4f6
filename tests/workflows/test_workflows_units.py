"""Workflow layer without a deep-learning framework: data preparation, streamed stitching and
its geometry, outputs, configuration flags, session and dispatch rules."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, TrainingConfig, legacy_params
from ptychopinn_plugin.data import RawData
from ptychopinn_plugin.evaluation import eval_reconstruction
from ptychopinn_plugin.physics import stitch_patches
from ptychopinn_plugin.util.bilinear import extract_patches
from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data
from ptychopinn_plugin.workflows.outputs import com_from_offsets, save_outputs
from ptychopinn_plugin.workflows.stitching import stitch_container, transform_offsets


@pytest.fixture(scope="module")
def test_raw(tiny_dataset_dir) -> RawData:
    return load_data(tiny_dataset_dir / "test_data.npz")


def crop_residual(com_xy, canvas_size):
    """``(dy, dx)`` registration expected for a perfectly placed canvas.

    physics §11 crops the ground truth at the integer pixel ``floor(com − P/2 + 0.5)``, so
    a correctly stitched canvas is still off by the sub-pixel residual (up to ±0.5 px per
    axis, 0.71 px in norm); the registration must measure exactly that residual.
    """
    origin = np.asarray(com_xy, dtype=np.float64) - canvas_size / 2
    residual = origin - np.floor(origin + 0.5)
    return float(residual[1]), float(residual[0])


def _inference_config(gridsize: int = 1, **kw) -> InferenceConfig:
    return InferenceConfig(model=ModelConfig(N=64, gridsize=gridsize), model_path=Path(), test_data_file=Path(), **kw)


# ----------------------------------------------------------------------------- data preparation
def test_load_data_subsample_is_seeded_sorted_and_side_effect_free(tiny_dataset_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    raw = load_data(tiny_dataset_dir / "train_data.npz", n_subsample=20, subsample_seed=5)
    full = load_data(tiny_dataset_dir / "train_data.npz")
    expected = np.sort(np.random.default_rng(5).choice(len(full), size=20, replace=False))
    np.testing.assert_array_equal(raw.sample_indices, expected)
    np.testing.assert_array_equal(raw.xcoords, full.xcoords[expected])
    np.testing.assert_array_equal(raw.diff3d, full.diff3d[expected])
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched
    assert list(tmp_path.iterdir()) == []  # nothing written into the working directory


def test_inference_grouping_is_one_group_per_position(test_raw):
    m = len(test_raw)
    c1 = create_ptycho_data_container(test_raw, _inference_config(1))
    assert len(c1) == m
    np.testing.assert_array_equal(c1.nn_indices[:, 0], np.arange(m))
    c2 = create_ptycho_data_container(test_raw, _inference_config(2))
    assert c2.X.shape == (m, 64, 64, 4)
    # every member is one of the K = 4 nearest neighbours of some seed: all within the scan
    assert c2.nn_indices.min() >= 0 and c2.nn_indices.max() < m
    again = create_ptycho_data_container(test_raw, _inference_config(2))
    np.testing.assert_array_equal(again.nn_indices, c2.nn_indices)  # deterministic (seed 0)


def test_training_grouping_uses_total_n_groups_even_for_shim_rawdata(tiny_dataset_dir):
    """A ``ptycho.raw_data.RawData`` (per-position nsamples) must still get n_groups groups in total."""
    from ptycho.raw_data import RawData as ShimRawData

    raw = ShimRawData.from_file(tiny_dataset_dir / "train_data.npz")
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=2), n_groups=10, seed=1)
    container = create_ptycho_data_container(raw, cfg)
    assert container.X.shape == (10, 64, 64, 4)
    with pytest.raises(ValueError, match="N = 128"):
        create_ptycho_data_container(container, TrainingConfig(model=ModelConfig(N=128, gridsize=2)))


# ----------------------------------------------------------------------------- stitching
class _FourierPredictor:
    """A deterministic stand-in network: the complex patch is a fixed function of X.

    It lets the streamed predictor path be compared with stitching all patches at once.
    """

    def predict_normalised(self, X, positions):
        x = np.asarray(X, dtype=np.float64)
        mean = x.mean(axis=3, keepdims=True)
        return (mean * np.exp(1j * 0.01 * np.arange(64)[None, :, None, None])).astype(np.complex64)


def test_stitch_container_streams_exactly_like_one_shot_stitching(test_raw):
    container = create_ptycho_data_container(test_raw, _inference_config(1))
    patches = _FourierPredictor().predict_normalised(container.X, container.coords_nominal)
    reference = stitch_patches(patches, container.global_offsets, M=20)
    streamed = stitch_container(container, predictor=_FourierPredictor(), M=20, batch_size=7, keep_patches=True)
    np.testing.assert_allclose(streamed.image, reference.image, rtol=0, atol=1e-6 * np.abs(reference.image).max())
    assert streamed.geometry == reference.geometry
    np.testing.assert_array_equal(streamed.patches, patches)
    precomputed = stitch_container(container, patches=patches, M=20, batch_size=5)
    np.testing.assert_allclose(precomputed.image, reference.image, rtol=0, atol=1e-6 * np.abs(reference.image).max())
    assert precomputed.patches is None

    # Orientation options act on the stitching only: transpose the patches, negate x / y.
    flipped = stitch_container(container, patches=patches, M=20, flip_x=True, transpose=True)
    q = np.array(container.global_offsets)
    q[:, :, 0, :] *= -1
    expected = stitch_patches(np.transpose(patches, (0, 2, 1, 3)), q, M=20)
    np.testing.assert_allclose(flipped.image, expected.image, atol=1e-6 * np.abs(expected.image).max())
    np.testing.assert_array_equal(transform_offsets(container.global_offsets, flip_y=True, coord_scale=2.0)[:, 0, 1, 0],
                                  -2.0 * container.global_offsets[:, 0, 1, 0])


@pytest.mark.parametrize("gridsize", [1, 2])
def test_stitched_ground_truth_lands_on_the_ground_truth(test_raw, gridsize):
    """Geometry of the stitching path used for predictions: ground-truth object patches at the
    group centres (what a perfect ``trimmed_obj`` is), stitched by ``stitch_container``, must
    register to the ground truth with a sub-pixel shift once the canvas centre is known."""
    container = create_ptycho_data_container(test_raw, _inference_config(gridsize))
    q = container.global_offsets[:, 0, :, 0]  # (B, 2) = (x, y)
    truth_patches = extract_patches(test_raw.objectGuess, q[:, 0], q[:, 1], 64)[..., None]
    if gridsize == 1:
        np.testing.assert_allclose(truth_patches, container.Y, atol=1e-6)
    outcome = stitch_container(container, patches=truth_patches, M=20)
    com = com_from_offsets(outcome.global_offsets)
    assert com == pytest.approx(outcome.geometry.com_xy, abs=1e-12)
    metrics = eval_reconstruction(outcome.object, test_raw.objectGuess, canvas_com=com)
    dy, dx = metrics["registration_shift"]
    ry, rx = crop_residual(com, outcome.geometry.canvas_size)
    assert abs(dy - ry) <= 0.2 and abs(dx - rx) <= 0.2  # lands within 0.2 px of the ground truth
    assert metrics["ssim"][0] > 0.85 and metrics["ssim"][1] > 0.85
    # The check is sensitive: a canvas claimed one pixel to the right needs a 1 px correction.
    moved = eval_reconstruction(outcome.object, test_raw.objectGuess, canvas_com=(com[0] + 1.0, com[1]))
    assert moved["registration_shift"][1] == pytest.approx(rx - 1.0, abs=0.2)


# ----------------------------------------------------------------------------- outputs
def test_save_outputs_writes_images_geometry_and_history(tmp_path):
    import matplotlib.image

    rng = np.random.default_rng(0)
    amp = rng.uniform(0.5, 1.0, (40, 40)).astype(np.float32)
    phase = rng.uniform(-np.pi, np.pi, (40, 40)).astype(np.float32)
    offsets = rng.uniform(30, 60, (9, 1, 2, 1))
    results = {"history": {"loss": [3.0, 2.0, float("nan")], "val_loss": [4.0, 3.5, 3.0]},
               "global_offsets": offsets}
    written = save_outputs(amp, phase, results, tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json", "reconstructed_amplitude.png", "reconstructed_phase.png", "reconstruction.npz"]
    assert set(written) == {"amplitude_png", "phase_png", "reconstruction", "history"}
    for name in ("reconstructed_amplitude.png", "reconstructed_phase.png"):
        image = matplotlib.image.imread(out / name)
        assert image.ndim == 3 and image.shape[0] > 100  # a real raster with a colorbar
    with np.load(out / "reconstruction.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["amplitude"], amp)
        np.testing.assert_array_equal(npz["phase"], phase)
        assert npz["object"].dtype == np.complex64
        np.testing.assert_allclose(np.angle(npz["object"]), phase, atol=1e-5)
        np.testing.assert_allclose(npz["canvas_com"], offsets[:, 0, :, 0].mean(axis=0))
        assert int(npz["canvas_size"]) == 40
    history = json.loads((out / "history.json").read_text())
    assert history == {"loss": [3.0, 2.0, "NaN"], "val_loss": [4.0, 3.5, 3.0]}

    only_history = save_outputs(None, None, {"history": {"loss": [1.0]}}, tmp_path / "h")
    assert sorted(p.name for p in (tmp_path / "h").iterdir()) == ["history.json"] and set(only_history) == {"history"}
    save_outputs(None, None, {}, tmp_path / "empty")
    assert (tmp_path / "empty").is_dir() and list((tmp_path / "empty").iterdir()) == []
    with pytest.raises(ValueError, match="both amplitude and phase"):
        save_outputs(amp, None, {}, tmp_path / "bad")


def test_reconstruction_npz_is_registrable_by_ptychopinn_evaluate(test_raw, tmp_path):
    """save_outputs' canvas geometry lets the data-only evaluate CLI crop the right footprint."""
    from ptychopinn_plugin.cli.evaluate import main as evaluate_main
    from ptychopinn_plugin.evaluation import read_metrics_json
    from ptychopinn_plugin.util.atomic import atomic_savez

    container = create_ptycho_data_container(test_raw, _inference_config(1))
    outcome = stitch_container(container, patches=container.Y[..., :1], M=20)
    save_outputs(outcome.amplitude, outcome.phase, {"global_offsets": outcome.global_offsets}, tmp_path / "rec")
    truth = tmp_path / "truth.npz"
    atomic_savez(truth, objectGuess=test_raw.objectGuess)
    rc = evaluate_main(["--reconstruction", str(tmp_path / "rec" / "reconstruction.npz"), "--ground-truth",
                        str(truth), "--output-dir", str(tmp_path / "ev"), "--quiet"])
    assert rc == 0
    doc = read_metrics_json(tmp_path / "ev" / "metrics.json")
    ry, rx = crop_residual(outcome.geometry.com_xy, outcome.geometry.canvas_size)
    assert abs(doc["registration_shift"]["dy"] - ry) <= 0.2 and abs(doc["registration_shift"]["dx"] - rx) <= 0.2
    in_memory = eval_reconstruction(outcome.object, test_raw.objectGuess, canvas_com=outcome.geometry.com_xy)
    assert doc["metrics"]["ssim"]["amplitude"] == pytest.approx(in_memory["ssim"][0], abs=1e-5)
    assert doc["metrics"]["ssim"]["amplitude"] > 0.85


# ----------------------------------------------------------------------------- configuration flags
def test_every_config_field_has_a_flag_and_cli_beats_yaml_beats_defaults(tiny_dataset_dir, tmp_path):
    import dataclasses

    from ptychopinn_plugin.workflows.arguments import (
        build_training_parser,
        merge_config_values,
        setup_configuration,
        update_config_from_dict,
    )

    parser = build_training_parser(argparse.ArgumentParser(allow_abbrev=False))
    options = set(parser._option_string_actions)
    for cls in (ModelConfig, TrainingConfig):
        for field in dataclasses.fields(cls):
            if field.name != "model":
                assert f"--{field.name}" in options, field.name
    for name in ("object_big", "probe_mask", "sequential_sampling", "enable_oversampling"):
        assert f"--no-{name}" in options
    assert parser._option_string_actions["--model_type"].choices == ["pinn", "supervised"]

    yaml_path = tmp_path / "run.yaml"
    yaml_path.write_text("model:\n  gridsize: 2\n  n_filters_scale: 3\nbatch_size: 8\nnepochs: 7\n")
    args = parser.parse_args(["--nepochs", "3", "--no-object_big", "--train_data_file",
                              str(tiny_dataset_dir / "train_data.npz"), "--config", str(yaml_path)])
    cfg = setup_configuration(args)
    assert cfg.nepochs == 3 and cfg.batch_size == 8  # CLI > YAML
    assert cfg.model.gridsize == 2 and cfg.model.n_filters_scale == 3 and cfg.model.object_big is False
    assert cfg.model.N == 64  # from the data (not given anywhere)
    assert cfg.nphotons == 1e9 and cfg.model.probe_big is True  # defaults
    assert merge_config_values(parser.parse_args([]), None) == {}

    updated = update_config_from_dict(cfg, {"nepochs": 9, "model": {"probe_scale": 2.0}, "gridsize": 1})
    assert (updated.nepochs, updated.model.probe_scale, updated.model.gridsize) == (9, 2.0, 1)
    assert cfg.nepochs == 3 and cfg.model.gridsize == 2  # input untouched
    with pytest.raises(ValueError, match="nepoch"):
        update_config_from_dict(cfg, {"nepoch": 1})


# ----------------------------------------------------------------------------- session and dispatch
def test_saving_without_a_model_is_an_error(tmp_path):
    import ptycho.model
    import ptycho.model_manager

    with pytest.raises(RuntimeError, match="no trained model to save"):
        ptycho.model_manager.save(tmp_path / "m")
    assert not (tmp_path / "m" / "wts.h5.zip").exists()
    with pytest.raises(AttributeError, match="train one"):
        ptycho.model.autoencoder  # noqa: B018
    with pytest.raises(RuntimeError, match="load one"):
        from ptychopinn_plugin.workflows.inference import current_predictor

        current_predictor()


def test_bad_backend_literal_is_rejected_after_updating_params(tiny_dataset_dir):
    from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend

    cfg = TrainingConfig(model=ModelConfig(N=128, gridsize=3))
    cfg.backend = "jax"  # assigned after construction: __post_init__ never saw it
    with pytest.raises(ValueError) as info:
        run_cdi_example_with_backend(None, None, cfg)
    message = str(info.value)
    assert "'jax'" in message and "'tensorflow'" in message and "'pytorch'" in message
    assert legacy_params.cfg["N"] == 128 and legacy_params.cfg["gridsize"] == 3  # rule 1 ran first


class _BytesCodec:
    """Archive payload codec writing opaque bytes: builds a structurally valid archive of any
    backend without that framework (the archive layer never interprets payload bytes)."""

    payload_filename = "model.pt"
    backend = "pytorch"

    def framework_versions(self):
        return {"torch": "n/a"}

    def save_model(self, model, path):
        Path(path).write_bytes(model)

    def load_model(self, path, *, name, params):  # pragma: no cover - never reached in these tests
        raise AssertionError("payload must not be decoded")

    def verify_model(self, model, *, name, model_config):  # pragma: no cover
        raise AssertionError("payload must not be decoded")


@pytest.fixture
def torch_archive_dir(tmp_path) -> Path:
    from ptychopinn_plugin.archive import save_archive

    cfg = ModelConfig(N=64)
    probe = np.ones((64, 64), dtype=np.complex64)
    save_archive(tmp_path / "bundle" / "wts.h5.zip", models={"autoencoder": b"a", "diffraction_to_obj": b"d"},
                 codec=_BytesCodec(), model_config=cfg, intensity_scale=31.25, intensity_scale_trained=31.25,
                 probe=probe)
    return tmp_path / "bundle"


def _run_isolated(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, cwd=os.getcwd())


def test_missing_torch_gives_install_guidance_and_no_fallback(torch_archive_dir):
    code = f"""
        import sys
        sys.modules["torch"] = None  # what an installation without torch looks like to `import torch`
        from ptychopinn_plugin.config import ModelConfig, TrainingConfig
        from ptychopinn_plugin.workflows.backend_selector import train_cdi_model_with_backend
        from ptychopinn_plugin.workflows.components import load_inference_bundle
        cfg = TrainingConfig(model=ModelConfig(N=64), backend="pytorch")
        for call in (lambda: train_cdi_model_with_backend(None, None, cfg),
                     lambda: load_inference_bundle({str(torch_archive_dir)!r})):
            try:
                call()
            except RuntimeError as exc:
                print("RuntimeError:", exc)
            else:
                print("no error")
        print("tensorflow imported:", "tensorflow" in sys.modules)
    """
    out = _run_isolated(code)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("RuntimeError:")]
    assert len(lines) == 2, out.stdout
    for line in lines:
        assert "PyTorch backend selected" in line and "pip install 'ptychopinn[torch]'" in line
        assert "lightning" in line and "tensordict" in line
    assert "tensorflow imported: False" in out.stdout  # no silent fallback to TensorFlow


def test_missing_tensorflow_gives_install_guidance():
    code = """
        import sys
        sys.modules["tensorflow"] = None
        from ptychopinn_plugin.config import ModelConfig, TrainingConfig
        from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend
        try:
            run_cdi_example_with_backend(None, None, TrainingConfig(model=ModelConfig(N=64)))
        except RuntimeError as exc:
            print("RuntimeError:", exc)
        print("torch imported:", "torch" in sys.modules)
    """
    out = _run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert "TensorFlow backend selected" in out.stdout and "pip install 'ptychopinn[tf]'" in out.stdout
    assert "torch imported: False" in out.stdout


def test_library_loader_checks_the_backend_before_decoding(torch_archive_dir):
    from ptychopinn_plugin.archive import ArchiveBackendMismatchError
    from ptychopinn_plugin.workflows.inference import load_archive, resolve_bundle_dir

    with pytest.raises(ArchiveBackendMismatchError, match="saved by the pytorch backend; active backend is tensorflow"):
        load_archive(torch_archive_dir, backend="tensorflow")
    with pytest.raises(ValueError, match="'jax'"):
        load_archive(torch_archive_dir, backend="jax")
    assert resolve_bundle_dir(torch_archive_dir) == torch_archive_dir / "wts.h5.zip"


def test_load_inference_bundle_directory_rules(tmp_path):
    from ptychopinn_plugin.workflows.components import load_inference_bundle

    with pytest.raises(ValueError, match="does not exist or is not a directory"):
        load_inference_bundle(tmp_path / "nope")
    (tmp_path / "file.zip").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a directory"):
        load_inference_bundle(tmp_path / "file.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_inference_bundle(tmp_path / "empty")
    assert str(tmp_path / "empty" / "wts.h5.zip") in str(info.value) and "raining" in str(info.value)
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "manifest.dill").write_bytes(b"\x80")
    with pytest.raises(ValueError, match="pickle"):
        load_inference_bundle(tmp_path / "legacy")


def test_workflow_validation_of_reassigned_fields():
    from ptychopinn_plugin.workflows.training import check_workflow_config

    cfg = TrainingConfig(model=ModelConfig(N=0))
    with pytest.raises(ValueError, match="N is not set"):
        check_workflow_config(cfg)  # Ptychodus builds N=0 in its GUI process
    cfg.model.N = 64
    cfg.batch_size = 12
    check_workflow_config(cfg)  # a non-power-of-two batch only warns inside workflows
    cfg.nepochs = 0
    with pytest.raises(ValueError, match="nepochs"):
        check_workflow_config(cfg)
    cfg.nepochs = 1
    cfg.model.model_type = "supervised"
    cfg.model.gridsize = 2
    with pytest.raises(ValueError, match="supervised training requires gridsize == 1"):
        check_workflow_config(cfg)
