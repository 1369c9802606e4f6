"""Our Ptychodus library without a framework: settings, export schema, input conversion, errors.

Everything here runs in this process against the real Ptychodus 1.7 classes; no child
process trains anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ptychodus")
pytestmark = pytest.mark.ptychodus

from ptychodus.api.reconstruct import ReconstructInput, TrainableReconstructor  # noqa: E402
from ptychodus.api.settings import SettingsRegistry  # noqa: E402

from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig  # noqa: E402

HEAVY = ("tensorflow", "keras", "torch", "lightning", "tensordict", "PyQt5")
ROOT = Path(__file__).resolve().parents[2]


def _library(registry=None):
    from ptychopinn_plugin.ptychodus import PtychoPINNLibrary

    return PtychoPINNLibrary(registry if registry is not None else SettingsRegistry())


def _imported_after(statement: str) -> list[str]:
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY + ('ptychodus',)!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_imports_stay_light():
    assert _imported_after("import ptychopinn_plugin.ptychodus") == []
    # The library itself needs Ptychodus's API, never a framework or Qt.
    assert _imported_after("from ptychopinn_plugin.ptychodus import PtychoPINNLibrary, create_raw_data") == [
        "ptychodus"]


def test_library_identity_and_ptychodus_keys():
    from ptychodus.api.parameters import StringParameter
    from ptychodus.model.processing import ProcessingAlgorithmParameter

    library = _library()
    assert library.name == "PtychoPINN (ptychopinn)"
    reconstructors = list(library)
    assert [r.name for r in reconstructors] == ["PINN", "Supervised"]
    for r in reconstructors:
        assert isinstance(r, TrainableReconstructor)
        assert r.get_model_file_filter() == "Zipped Archive (*.zip)"
        assert r.get_model_file_extension() == ".zip"
        assert r.get_training_data_file_filter() == "NumPy Zipped Archive (*.npz)"
        assert not r.is_model_loaded()
        assert r.get_progress_goal() == 1
    # Ptychodus's own algorithm parameter: keys, and their split back into (library, reconstructor).
    algorithm = ProcessingAlgorithmParameter(StringParameter("ptychopinn (ptychopinn)_supervised", None), [library])
    keys = list(algorithm.available_reconstructors())
    assert keys == ["ptychopinn (ptychopinn)_pinn", "ptychopinn (ptychopinn)_supervised"]
    assert [algorithm.split_key(k) for k in keys] == [("ptychopinn (ptychopinn)", "pinn"),
                                                      ("ptychopinn (ptychopinn)", "supervised")]
    assert algorithm.get_current_reconstructor() is reconstructors[1]


def test_settings_defaults_mirror_the_config_dataclasses():
    from ptychodus.api.parameters import BooleanParameter, IntegerParameter, RealParameter, StringParameter

    registry = SettingsRegistry()
    settings = _library(registry).settings
    assert {"PtychoPINNModel", "PtychoPINNTraining", "PtychoPINNInference", "PtychoPINNExecution"} <= set(registry)
    assert isinstance(registry["PtychoPINNModel"].parameters()["GridSize"], IntegerParameter)
    assert isinstance(registry["PtychoPINNModel"].parameters()["ProbeScale"], RealParameter)
    assert isinstance(registry["PtychoPINNModel"].parameters()["ObjectBig"], BooleanParameter)
    assert isinstance(registry["PtychoPINNTraining"].parameters()["Backend"], StringParameter)
    assert settings.diffraction_domain == "intensity" and settings.backend == "tensorflow"

    assert settings.model_config("pinn") == ModelConfig(N=0)
    training = settings.training_config("pinn", input_dir=Path("in"), output_dir=Path("out"))
    # Ptychodus-facing defaults (physics §14): NumPhotons 1e6, everything else the dataclass default.
    assert training == TrainingConfig(model=ModelConfig(N=0), nphotons=1e6, n_groups=512,
                                      train_data_file=Path("in/train_data.npz"),
                                      test_data_file=Path("in/test_data.npz"), output_dir=Path("out"))
    assert settings.execution_config() == PyTorchExecutionConfig()
    inference = settings.inference_config(ModelConfig(N=64, gridsize=2), backend="pytorch", model_path=Path("m"))
    assert (inference.n_groups, inference.neighbor_count, inference.stitch_crop_size, inference.backend) == (
        None, 7, 20, "pytorch")


def test_settings_changes_reach_the_configs_and_the_settings_file(tmp_path):
    settings = _library(SettingsRegistry()).settings
    settings.model.gridsize.set_value(2)
    settings.training.backend.set_value("PyTorch")  # combo text is matched case-insensitively
    settings.training.n_groups.set_value(64)
    settings.training.seed.set_value(7)
    settings.training.neighbor_pool_size.set_value(0)  # sentinel → None
    settings.execution.devices.set_value("auto")
    settings.execution.gradient_clip_val.set_value(0.5)
    settings.execution.deterministic.set_value("warn")
    training = settings.training_config("pinn", input_dir=tmp_path, output_dir=tmp_path)
    assert (training.model.gridsize, training.backend, training.n_groups, training.seed) == (2, "pytorch", 64, 7)
    assert training.neighbor_pool_size is None and training.subsample_seed is None
    execution = settings.execution_config()
    assert (execution.devices, execution.gradient_clip_val, execution.deterministic) == ("auto", 0.5, "warn")
    # Supervised models always use gridsize 1 (the setting is shared with PINN).
    assert settings.model_config("supervised").gridsize == 1

    path = tmp_path / "settings.ini"
    source_registry = SettingsRegistry()
    source = _library(source_registry).settings
    source.training.backend.set_value("pytorch")
    source.training.nepochs.set_value(3)
    source.inference.diffraction_domain.set_value("amplitude")
    source_registry.save_settings(path)
    text = path.read_text()
    assert "[PtychoPINNExecution]" in text and "DiffractionDomain = amplitude" in text
    target_registry = SettingsRegistry()
    target = _library(target_registry).settings
    target_registry.open_settings(path)
    assert (target.backend, target.nepochs, target.diffraction_domain) == ("pytorch", 3, "amplitude")


def test_invalid_settings_are_reported_before_any_child(tmp_path):
    settings = _library(SettingsRegistry()).settings
    settings.training.backend.set_value("jax")
    with pytest.raises(ValueError, match=r"PtychoPINNTraining\.Backend = 'jax'.*tensorflow, pytorch"):
        settings.training_config("pinn", input_dir=tmp_path, output_dir=tmp_path)
    settings.training.backend.set_value("tensorflow")
    settings.execution.devices.set_value("two")
    with pytest.raises(ValueError, match="Devices"):
        settings.execution_config()
    settings.execution.devices.set_value("1")
    settings.execution.strategy.set_value("ddp")  # would re-launch Ptychodus per rank (api spec §2.6)
    with pytest.raises(ValueError, match=r"PtychoPINNExecution\.Strategy = 'ddp'.*ddp_spawn"):
        settings.execution_config()
    settings.execution.strategy.set_value("ddp_spawn")
    assert settings.execution_config().strategy == "ddp_spawn"
    settings.inference.stitch_crop_size.set_value(3)
    with pytest.raises(ValueError, match="stitch_crop_size"):
        settings.inference_config(ModelConfig(N=64), backend="tensorflow", model_path=tmp_path)


def test_settings_are_shared_with_ptychodus_builtin_library():
    """Both libraries in one registry (as in the launcher): same-named parameters are shared."""
    from ptychodus.model.ptychopinn import PtychoPINNReconstructorLibrary

    registry = SettingsRegistry()
    builtin = PtychoPINNReconstructorLibrary(registry, False)
    ours = _library(registry).settings
    assert ours.model.gridsize is builtin.model_settings.gridsize
    assert ours.training.nepochs is builtin.training_settings.nepochs
    assert ours.inference.neighbor_count is builtin.inference_settings.n_nearest_neighbors
    assert "Offset" in registry["PtychoPINNModel"].parameters()
    builtin.model_settings.gridsize.set_value(2)  # the user edits the built-in panel…
    assert ours.model_config("pinn").gridsize == 2  # …and our configuration follows


# --------------------------------------------------------------------------- conversion / export
def test_export_training_data_writes_the_data_spec_schema(small_inputs, helpers, tmp_path):
    from skimage.restoration import inpaint_biharmonic

    reconstructor = _library().reconstructor("PINN")
    simulated = small_inputs["train"]
    sim, given = simulated.sim, simulated.reconstruct_input
    reconstructor.export_training_data(tmp_path / "train_data", given)  # like numpy.savez: '.npz' appended
    path = tmp_path / "train_data.npz"
    with np.load(path, allow_pickle=False) as npz:
        data = {key: npz[key] for key in npz.files}
    assert set(data) == {"xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "bad_pixels",
                         "probeGuess", "objectGuess", "scan_index", "_metadata"}
    m, n = sim.diffraction.shape[:2]
    expected_dtypes = {"xcoords": np.float64, "ycoords": np.float64, "xcoords_start": np.float64,
                       "ycoords_start": np.float64, "diff3d": np.float32, "bad_pixels": np.bool_,
                       "probeGuess": np.complex64, "objectGuess": np.complex64, "scan_index": np.int64}
    for key, dtype in expected_dtypes.items():
        assert data[key].dtype == dtype, key
    assert data["diff3d"].shape == (m, n, n) and data["bad_pixels"].shape == (n, n)

    # Positions: the simulation's pixel coordinates, recovered through Ptychodus's object geometry.
    np.testing.assert_allclose(data["xcoords"], sim.xcoords, atol=1e-9)
    np.testing.assert_allclose(data["ycoords"], sim.ycoords, atol=1e-9)
    np.testing.assert_array_equal(data["xcoords_start"], data["xcoords"])
    np.testing.assert_array_equal(data["scan_index"], np.zeros(m, dtype=np.int64))
    np.testing.assert_array_equal(data["probeGuess"], sim.probeGuess)  # the dominant of the two modes
    np.testing.assert_array_equal(data["objectGuess"], sim.objectGuess)

    # Amplitude = sqrt(counts) at good pixels; bad pixels: biharmonic inpainting (skimage reference).
    mask = np.zeros((n, n), dtype=bool)
    for row, col in helpers.BAD_PIXELS:
        mask[row, col] = True
    np.testing.assert_array_equal(data["bad_pixels"], mask)
    good = ~mask
    np.testing.assert_array_equal(data["diff3d"][:, good], np.sqrt(simulated.counts[:, good]).astype(np.float32))
    reference = np.moveaxis(inpaint_biharmonic(np.moveaxis(given.diffraction_patterns.astype(np.float64), 0, -1),
                                               mask, channel_axis=-1), -1, 0)
    reference = np.clip(np.rint(reference), 0, None)
    np.testing.assert_allclose(data["diff3d"][:, mask], np.sqrt(reference[:, mask]), rtol=1e-6, atol=1e-6)
    assert np.abs(data["diff3d"][:, mask] ** 2 - simulated.counts[:, mask]).max() < 100  # hot pixels (60000) gone

    metadata = json.loads(str(data["_metadata"]))
    assert metadata["diffraction_domain"] == "amplitude" and metadata["source"] == "ptychodus"
    expected_photons = np.mean(np.sum(data["diff3d"].astype(np.float64) ** 2, axis=(1, 2)))
    assert metadata["nphotons_estimate"] == pytest.approx(expected_photons, rel=1e-9)
    assert metadata["nphotons_estimate"] == pytest.approx(np.mean(simulated.counts.sum(axis=(1, 2))), rel=1e-3)
    assert metadata["probe_photon_count"] == 1e6
    assert metadata["pixel_width_m"] == helpers.PIXEL_M and metadata["pixel_height_m"] == helpers.PIXEL_M

    # Our canonical reader takes the file as it is (amplitude recorded in the metadata).
    from ptychopinn_plugin.data.raw_data import RawData

    raw = RawData.from_file(path, diffraction_domain="auto")
    np.testing.assert_array_equal(raw.diff3d, data["diff3d"])


def test_create_raw_data_domains_and_square_check(small_inputs, helpers):
    from ptychopinn_plugin.ptychodus import create_raw_data

    simulated = small_inputs["test"]
    given = simulated.reconstruct_input
    mask = given.bad_pixels
    counts_raw = create_raw_data(given, "auto")  # integer dtype → counts → sqrt
    np.testing.assert_array_equal(counts_raw.diff3d[:, ~mask], np.sqrt(simulated.counts[:, ~mask]).astype(np.float32))
    amplitude_input = ReconstructInput(np.sqrt(simulated.counts).astype(np.float32), np.zeros_like(mask),
                                       given.product)
    amplitude_raw = create_raw_data(amplitude_input, "amplitude")
    np.testing.assert_array_equal(amplitude_raw.diff3d, amplitude_input.diffraction_patterns)
    assert amplitude_raw.probeGuess.shape == (64, 64)
    # The weak mode carries WEAK_MODE_FRACTION² of the dominant power (both modes equal shapes).
    assert np.sum(np.abs(amplitude_raw.probeGuess) ** 2) == pytest.approx(
        np.sum(np.abs(given.product.probes.get_array()[0, 1]) ** 2) / helpers.WEAK_MODE_FRACTION ** 2, rel=1e-5)
    geometry = given.product.object_.get_geometry()
    assert (geometry.center_x_m, geometry.center_y_m) == helpers.CENTER_M

    non_square = ReconstructInput(np.zeros((4, 64, 32), dtype=np.uint16), np.zeros((64, 32), dtype=bool),
                                  given.product)
    with pytest.raises(ValueError, match="Model requires square diffraction patterns"):
        create_raw_data(non_square, "intensity")
    reconstructor = _library().reconstructor("PINN")
    with pytest.raises(ValueError, match="Model requires square diffraction patterns"):
        next(reconstructor.reconstruct(non_square))


def test_model_errors_without_a_model(small_inputs, tmp_path):
    reconstructor = _library().reconstructor("PINN")
    with pytest.raises(RuntimeError, match="no PtychoPINN model loaded"):
        next(reconstructor.reconstruct(small_inputs["test"].reconstruct_input))
    with pytest.raises(RuntimeError, match="no PtychoPINN model loaded"):
        reconstructor.save_model(tmp_path / "model.zip")
    not_an_archive = tmp_path / "notes.zip"
    with zipfile.ZipFile(not_an_archive, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a ptychopinn model archive"):
        reconstructor.load_model_from_file(not_an_archive)
    with pytest.raises(FileNotFoundError, match="wts.h5.zip"):
        reconstructor.load_model_from_file(tmp_path)
    assert not reconstructor.is_model_loaded()
    (tmp_path / "train_data.npz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="test_data.npz"):
        next(reconstructor.train(tmp_path, tmp_path))


def test_output_product_places_the_canvas_over_the_scan(small_inputs, helpers):
    from ptychodus.api.product import LossValue

    from ptychopinn_plugin.ptychodus import output_product

    given = small_inputs["test"].reconstruct_input.product
    canvas = (np.arange(100, dtype=np.float32).reshape(10, 10) * (1 + 1j)).astype(np.complex64)
    com = (60.5, 70.25)
    product = output_product(given, canvas, com, losses=[LossValue(0, 2.5)], comments_note="ptychopinn test note")
    height, width = given.object_.get_array().shape[-2:]
    center = product.object_.get_center()
    # data §6.2: centre_out = centre_in + pixel · (com − size_in/2)
    assert center.x_m == pytest.approx(helpers.CENTER_M[0] + helpers.PIXEL_M * (com[0] - width / 2), abs=1e-15)
    assert center.y_m == pytest.approx(helpers.CENTER_M[1] + helpers.PIXEL_M * (com[1] - height / 2), abs=1e-15)
    # Cross-check with Ptychodus's own geometry: canvas pixel (P/2, P/2) is object coordinate com.
    geometry = product.object_.get_geometry()
    from ptychodus.api.object import ObjectPosition

    probe_frame = geometry.map_coordinates_object_to_probe(ObjectPosition(0, 5.0, 5.0))
    back = given.object_.get_geometry().map_coordinates_probe_to_object(probe_frame)
    assert (back.x_px, back.y_px) == pytest.approx(com, abs=1e-9)
    np.testing.assert_array_equal(product.object_.get_array(), canvas[None])
    assert product.metadata.comments == "simulated\nptychopinn test note"
    assert list(product.losses) == [LossValue(0, 2.5)]
    assert product.probe_positions is given.probe_positions and product.probes is given.probes
