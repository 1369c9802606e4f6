"""Issue #12 item 6: each weight stored once, no optimiser state; old (format 3.0) archives open.

Real models of both backends (k = 2, N = 64 — the sizes the issue gives: a PINN archive
<= 1.2x its float32 weights, <= 11 MB), saved and loaded through the session's
``save_model`` and the archive reader.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.config import ModelConfig, TrainingConfig

N = 64
SCALE = float(np.sqrt(1e6) / (N / 2))


@pytest.fixture(autouse=True)
def _clean_session(clean_model_session):
    yield


def _probe() -> np.ndarray:
    yy, xx = np.mgrid[:N, :N] - N / 2
    return (np.exp(-(xx**2 + yy**2) / 200.0) * np.exp(0.01j * xx)).astype(np.complex64)


def _register(backend: str, autoencoder, d2o, gridsize: int = 1):
    from ptychopinn_plugin.workflows.session import CurrentModel, set_current_model

    config = ModelConfig(N=N, gridsize=gridsize)
    model = CurrentModel(backend=backend, models={"autoencoder": autoencoder, "diffraction_to_obj": d2o},
                         model_config=config, training_config=TrainingConfig(model=config, backend=backend),
                         intensity_scale=SCALE, intensity_scale_trained=SCALE, probe=_probe())
    set_current_model(model)
    return model


def _inputs(gridsize: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = gridsize * gridsize
    return rng.random((3, N, N, c)).astype(np.float32), rng.normal(0, 2, (3, 1, 2, c)).astype(np.float32)


def _members(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: info.file_size for info in zf.infolist()}


def _check_compact(path: Path, weight_bytes: int) -> None:
    members = _members(path)
    assert "autoencoder/model.pt" in members or "autoencoder/model.keras" in members
    assert not [m for m in members if m.startswith("diffraction_to_obj/")]  # stored once
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format_version"] == "3.1"
    assert manifest["derived_models"] == {"diffraction_to_obj": "autoencoder"}
    assert manifest["models"] == ["autoencoder", "diffraction_to_obj"]
    size = path.stat().st_size
    assert size <= 1.2 * weight_bytes, f"archive {size} B for {weight_bytes} B of float32 weights"
    assert size <= 11 * 1024**2


@pytest.mark.torch
def test_torch_archive_stores_each_weight_once_and_reloads_identically(tmp_path):
    pytest.importorskip("torch")
    from ptychopinn_plugin.backends.torch import build_models, predict_objects
    from ptychopinn_plugin.workflows.inference import load_archive
    from ptychopinn_plugin.workflows.session import save_model

    autoencoder, d2o = build_models(ModelConfig(N=N), intensity_scale=SCALE, probe=_probe(), seed=3)
    model = _register("pytorch", autoencoder, d2o)
    weight_bytes = sum(v.numel() * 4 for v in autoencoder.state_dict().values() if v.is_floating_point())
    path = save_model(tmp_path, model)
    _check_compact(path, weight_bytes)

    x, pos = _inputs()
    expected = predict_objects(d2o, x, pos, SCALE)
    loaded = load_archive(path, model_names=["diffraction_to_obj"])
    np.testing.assert_array_equal(predict_objects(loaded.models["diffraction_to_obj"], x, pos, SCALE), expected)
    both = load_archive(path)
    assert both.models["diffraction_to_obj"].core is both.models["autoencoder"].core  # shared, as after training


@pytest.mark.tf
@pytest.mark.slow
def test_keras_archive_has_no_optimiser_state_and_stores_each_weight_once(tmp_path):
    pytest.importorskip("tensorflow")
    from ptychopinn_plugin.backends.tf import build_models, compile_models, predict_objects
    from ptychopinn_plugin.workflows.inference import load_archive
    from ptychopinn_plugin.workflows.session import save_model

    autoencoder, d2o = build_models(ModelConfig(N=N), intensity_scale=SCALE, probe=_probe(), seed=3)
    compile_models(autoencoder, TrainingConfig(model=ModelConfig(N=N)), has_ground_truth=False, run_eagerly=True)
    autoencoder.optimizer.build(autoencoder.trainable_variables)  # Adam's moments exist, as after training
    assert len(autoencoder.optimizer.variables) > 2 * len(autoencoder.trainable_variables)
    model = _register("tensorflow", autoencoder, d2o)
    weight_bytes = sum(int(np.prod(w.shape)) * 4 for w in autoencoder.weights)
    path = save_model(tmp_path, model)
    _check_compact(path, weight_bytes)
    assert autoencoder.optimizer is not None  # detached only while saving

    x, pos = _inputs()
    expected = predict_objects(d2o, x, pos, SCALE)
    loaded = load_archive(path, model_names=["diffraction_to_obj"])
    np.testing.assert_allclose(predict_objects(loaded.models["diffraction_to_obj"], x, pos, SCALE), expected,
                               rtol=0, atol=1e-6)


def test_format_3_0_archives_with_both_payloads_still_open(saved_archive, tmp_path, codec, kit, caplog):
    """Archives written before format 3.1 (every model its own payload) open without a warning."""
    from ptychopinn_plugin.archive import load_archive

    old = kit.rezip(saved_archive, tmp_path / "old.zip", manifest_edit=lambda m: m.update(format_version="3.0"))
    with caplog.at_level(logging.WARNING):
        loaded = load_archive(old, codec)
    assert set(loaded.models) == {"autoencoder", "diffraction_to_obj"}
    assert not [r for r in caplog.records if "newer" in r.getMessage()]


def test_models_loaded_from_separate_payloads_are_saved_with_both(tmp_path):
    """Two models that do not share weights (e.g. read from a 3.0 archive) are never
    collapsed into one payload: storing one of them would lose the other's weights."""
    pytest.importorskip("torch")
    from ptychopinn_plugin.backends.torch import build_models
    from ptychopinn_plugin.workflows.session import save_model

    autoencoder, _ = build_models(ModelConfig(N=N), intensity_scale=SCALE, probe=_probe(), seed=3)
    _, other_d2o = build_models(ModelConfig(N=N), intensity_scale=SCALE, probe=_probe(), seed=4)
    path = save_model(tmp_path, _register("pytorch", autoencoder, other_d2o))
    members = _members(path)
    assert "autoencoder/model.pt" in members and "diffraction_to_obj/model.pt" in members
    with zipfile.ZipFile(path) as zf:
        assert "derived_models" not in json.loads(zf.read("manifest.json"))


def test_a_manifest_deriving_from_a_missing_model_is_refused(saved_archive, tmp_path, codec, kit):
    from ptychopinn_plugin.archive import load_archive

    bad = kit.rezip(saved_archive, tmp_path / "bad.zip",
                    manifest_edit=lambda m: m.update(derived_models={"diffraction_to_obj": "decoder"}))
    with pytest.raises(ValueError, match="'derived_models' = .* must map archived model names"):
        load_archive(bad, codec)
