"""Stock Ptychodus 1.7 "PtychoPINN-Torch" entries on our ptycho_torch package, driven through
Ptychodus's own child entry points in this process (specs/ptycho_torch_compat.md T1, T4-T6,
T9, T10)."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ptychodus")
pytest.importorskip("lightning")

from ptychodus.api.geometry import PixelGeometry  # noqa: E402
from ptychodus.api.io import save_ptychopinn_training_data  # noqa: E402
from ptychodus.api.object import Object, ObjectCenter, compute_object_geometry  # noqa: E402
from ptychodus.api.probe import ProbeGeometry, ProbeSequence  # noqa: E402
from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence  # noqa: E402
from ptychodus.api.product import Product, ProductMetadata  # noqa: E402
from ptychodus.api.reconstruct import ReconstructInput  # noqa: E402
from ptychodus.api.settings import SettingsRegistry  # noqa: E402
from ptychodus.model.ptychopinn_torch import _subprocess as sub  # noqa: E402
from ptychodus.model.ptychopinn_torch import reconstructor as rec  # noqa: E402
from ptychodus.model.ptychopinn_torch._payload import ReconstructPayload, TrainPayload  # noqa: E402
from ptychodus.model.ptychopinn_torch.settings import (  # noqa: E402
    PtychoPINNTorchDataSettings,
    PtychoPINNTorchInferenceSettings,
    PtychoPINNTorchModelSettings,
    PtychoPINNTorchTrainingSettings,
)

from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset  # noqa: E402
from ptychopinn_plugin.util.bilinear import extract_patches  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.ptychodus]

PIXEL_M = 20e-9
SCAN = SimulationConfig(N=64, object_size=160, n_positions=49, seed=5, nphotons=1e6)


class Queue:
    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []

    def put(self, item: tuple[str, object]) -> None:
        self.items.append(item)


@dataclass
class Scan:
    reconstruct_input: ReconstructInput
    truth_in_frame: np.ndarray
    """The true object resampled onto the input object's pixel grid."""
    sim: object
    offset_xy: tuple[float, float]
    """Simulation coordinate of input-object pixel (0, 0)."""


def framed_scan(stream: int, *, dtype=np.uint16) -> Scan:
    """A simulated scan as Ptychodus holds it: counts, positions in metres, a two-mode probe
    and an object whose geometry comes from ``compute_object_geometry`` (so it is centred
    on the scan's bounding box, as Ptychodus builds it)."""
    sim = simulate_dataset(SCAN, stream=stream)
    counts = np.rint(sim.diffraction.astype(np.float64) ** 2).astype(dtype)
    n = counts.shape[-1]
    mid_x = (sim.xcoords.min() + sim.xcoords.max()) / 2
    mid_y = (sim.ycoords.min() + sim.ycoords.max()) / 2
    centre = (1.0e-6, -2.0e-6)
    positions = ProbePositionSequence([
        ProbePosition(index=i, x_m=centre[0] + PIXEL_M * (x - mid_x), y_m=centre[1] + PIXEL_M * (y - mid_y))
        for i, (x, y) in enumerate(zip(sim.xcoords, sim.ycoords))])
    geometry = compute_object_geometry(list(positions), ProbeGeometry(n, n, PIXEL_M, PIXEL_M))
    h, w = geometry.height_px, geometry.width_px
    assert h == w
    # Input pixel (i, j) is at simulation coordinate mid + (j - (w-1)/2) (exactly, since the
    # geometry is centred on the scan's bounding box).
    offset = (mid_x - (w - 1) / 2, mid_y - (h - 1) / 2)
    truth = extract_patches(sim.objectGuess, np.array([offset[0] + w / 2]), np.array([offset[1] + h / 2]), w)[0]
    obj = Object(array=truth.astype(np.complex64), pixel_geometry=PixelGeometry(PIXEL_M, PIXEL_M),
                 center=ObjectCenter(geometry.center_x_m, geometry.center_y_m))
    probes = ProbeSequence(array=np.stack([sim.probeGuess, 0.2 * np.roll(sim.probeGuess, 3, axis=1)]).astype(
        np.complex64), opr_weights=None, pixel_geometry=PixelGeometry(PIXEL_M, PIXEL_M))
    metadata = ProductMetadata(name=f"scan{stream}", comments="", detector_distance_m=2.0, photon_energy_eV=8000.0,
                               probe_photon_count=1e6, exposure_time_s=0.1, mass_attenuation_m2_per_kg=0.0,
                               tomography_angle_deg=0.0)
    product = Product(metadata=metadata, probe_positions=positions, probes=probes, object_=obj, losses=[])
    patterns = counts.copy()
    patterns.setflags(write=False)  # Ptychodus hands over read-only views
    return Scan(ReconstructInput(patterns, np.zeros((n, n), dtype=bool), product), truth, sim, offset)


def stock_configs(mode: str = "Unsupervised", **values):
    """Ptychodus's own ``_build_configs`` on default settings, with ``values`` set first."""
    registry = SettingsRegistry()
    groups = (PtychoPINNTorchDataSettings(registry), PtychoPINNTorchModelSettings(registry),
              PtychoPINNTorchTrainingSettings(registry), PtychoPINNTorchInferenceSettings(registry))
    for name, value in values.items():
        for group in groups:
            if hasattr(group, name):
                getattr(group, name).set_value(value)
                break
        else:
            raise AttributeError(name)
    return rec._build_configs(mode, *groups)


def train_payload(directory: Path, mode: str = "Unsupervised", **values) -> TrainPayload:
    defaults = {"model_size": 64, "epochs": 2, "num_dataloader_workers": 0, "batch_size": 8}
    data, model, training, inference, datagen = stock_configs(mode, **{**defaults, **values})
    return TrainPayload(data_config=data, model_config=model, training_config=training,
                        inference_config=inference, datagen_config=datagen, input_path=directory,
                        output_path=directory, visible_gpu_indices="")


@pytest.fixture(scope="module")
def scans() -> dict[str, Scan]:
    return {"train": framed_scan(0), "test": framed_scan(1, dtype=np.uint32)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, scans) -> dict[int, Path]:
    """Checkpoints trained through ``run_train`` with stock settings (device 'cuda' on this
    CPU host, strategy 'ddp_spawn', CBAM on), gridsize 1 and 2."""
    out = {}
    for grid in (1, 2):
        directory = tmp_path_factory.mktemp(f"export_g{grid}")
        save_ptychopinn_training_data(directory / "scan.npz", scans["train"].reconstruct_input)
        queue = Queue()
        payload = train_payload(directory, grid_size_x=grid, grid_size_y=grid, num_channels=grid * grid)
        assert payload.training_config.device == "cuda" and payload.training_config.strategy == "ddp_spawn"
        sub.run_train(payload, queue)
        tags = [tag for tag, _ in queue.items]
        assert tags == ["train_output", "model_saved"]
        output = pickle.loads(queue.items[0][1])
        assert output.progress == 2
        assert len(output.training_loss) == 2 and len(output.validation_loss) == 2
        assert all(np.isfinite(v.value) for v in output.training_loss)
        path = Path(queue.items[1][1])
        assert path.is_file() and path.parent.name == "checkpoints" and path.parent.parent.name.startswith("run_")
        assert path.parent.parent.parent == directory
        out[grid] = path
    return out


def test_t1_stock_ptychodus_lists_the_torch_entries():
    from importlib.util import find_spec

    assert find_spec("ptycho_torch") is not None and find_spec("lightning") is not None
    from ptychodus.model.processing.api import ProcessingAlgorithmParameter
    from ptychodus.model.ptychopinn_torch.core import PtychoPINNTorchReconstructorLibrary

    library = PtychoPINNTorchReconstructorLibrary(SettingsRegistry(), False)
    assert [r.name for r in library] == ["Unsupervised", "Supervised"]
    registry = SettingsRegistry()
    parameter = ProcessingAlgorithmParameter(registry.create_group("Processing").create_string_parameter(
        "Algorithm", "ptychopinn-torch_unsupervised"), [library])
    keys = list(parameter._reconstructor_map)
    assert keys == ["ptychopinn-torch_unsupervised", "ptychopinn-torch_supervised"]


def test_t4_training_leaves_one_checkpoint_in_a_run_directory(trained):
    for path in trained.values():
        assert sorted(p.name for p in path.parent.iterdir()) == ["best.ckpt"]


def test_t5_checkpoint_loads_safely_and_keeps_the_configs(trained, tmp_path):
    import torch

    from ptycho_torch.api.base_api import PtychoModel
    from ptycho_torch.config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig

    for grid, path in trained.items():
        checkpoint = torch.load(path, weights_only=True)
        record = checkpoint["ptycho_torch"]
        assert record["format"] == "ptychopinn.ptycho_torch-checkpoint" and record["completed"] is True
        assert record["diffraction_domain"] == "intensity" and record["training_files"] == ["scan.npz"]
        # D2: nphotons from the counts (the simulation's 1e6 photons per pattern).
        assert record["nphotons"] == pytest.approx(1e6, rel=0.01)
        assert "hyper_parameters" not in checkpoint
        configs = PtychoModel._extract_configs_from_checkpoint(str(path))
        assert [type(c) for c in configs] == [DataConfig, ModelConfig, TrainingConfig, InferenceConfig]
        assert configs[1].mode == "Unsupervised" and configs[0].grid_size == (grid, grid)
    # A checkpoint holding a pickled object is refused, not executed.
    bad = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "ptycho_torch": {"configs": DataConfig()}}, bad)
    with pytest.raises(ValueError, match="not loaded for safety"):
        PtychoModel._extract_configs_from_checkpoint(str(bad))
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ValueError, match="not a ptychopinn PtychoPINN-Torch checkpoint"):
        PtychoModel._extract_configs_from_checkpoint(str(foreign))


@pytest.mark.parametrize("grid", [1, 2])
def test_t6_reconstruct_returns_the_input_objects_frame(trained, scans, grid):
    scan = scans["test"]
    queue = Queue()
    sub.run_reconstruct(ReconstructPayload("Unsupervised", trained[grid], scan.reconstruct_input), queue)
    assert [tag for tag, _ in queue.items] == ["output"]
    output = pickle.loads(queue.items[0][1])
    obj_in = scan.reconstruct_input.product.object_
    obj_out = output.product.object_
    array = obj_out.get_layer(0)
    assert array.dtype == np.complex64 and array.ndim == 2
    assert abs(array.shape[0] - obj_in.get_layer(0).shape[0]) <= 1
    assert abs(array.shape[1] - obj_in.get_layer(0).shape[1]) <= 1
    assert obj_out.get_center() == obj_in.get_center()
    assert np.all(np.isfinite(array))
    # Read-only uint32 counts were used and left unchanged (T10).
    assert not scan.reconstruct_input.diffraction_patterns.flags.writeable


def test_t6_true_patches_land_within_half_a_pixel(trained, scans, monkeypatch):
    """The cheap variant of T6: a stub network that returns the true object patches at the
    group centres; the reconstruction Ptychodus receives must register on the truth."""
    from ptycho_torch.api import base_api
    from ptychopinn_plugin.backends.torch import stock_entry
    from ptychopinn_plugin.evaluation.registration import measure_shift
    from ptychopinn_plugin.physics.stitching import offsets_to_xy

    scan = scans["test"]
    loaders = []
    original = base_api.PtychoDataLoader.from_np.__func__

    def recording_from_np(cls, *args, **kwargs):
        loader = original(cls, *args, **kwargs)
        loaders.append(loader)
        return loader

    def true_patches(d2o, X, positions, scale, batch_size=16, **kwargs):
        xy = offsets_to_xy(loaders[-1].container.global_offsets)
        n = X.shape[1]
        return extract_patches(scan.sim.objectGuess, xy[:, 0] + scan.offset_xy[0],
                               xy[:, 1] + scan.offset_xy[1], n)[..., None].astype(np.complex64)

    monkeypatch.setattr(base_api.PtychoDataLoader, "from_np", classmethod(recording_from_np))
    monkeypatch.setattr(stock_entry, "predict_objects", true_patches)
    queue = Queue()
    sub.run_reconstruct(ReconstructPayload("Unsupervised", trained[1], scan.reconstruct_input), queue)
    array = pickle.loads(queue.items[0][1]).product.object_.get_layer(0)
    truth = scan.truth_in_frame
    rows, cols = min(array.shape[0], truth.shape[0]), min(array.shape[1], truth.shape[1])
    covered = slice(24, rows - 24), slice(24, cols - 24)  # well inside the scan
    dy, dx = measure_shift(np.abs(truth[:rows, :cols][covered]), np.abs(array[:rows, :cols][covered]))
    assert abs(dy) < 0.5 and abs(dx) < 0.5
    assert np.corrcoef(np.abs(truth[:rows, :cols][covered]).ravel(),
                       np.abs(array[:rows, :cols][covered]).ravel())[0, 1] > 0.98


def test_reopened_checkpoint_under_another_name_gives_the_same_object(trained, scans, tmp_path):
    import shutil

    copy = tmp_path / "renamed.ckpt"
    shutil.copyfile(trained[2], copy)
    results = []
    for path in (trained[2], copy):
        queue = Queue()
        sub.run_reconstruct(ReconstructPayload("Unsupervised", path, scans["test"].reconstruct_input), queue)
        results.append(pickle.loads(queue.items[0][1]).product.object_.get_layer(0))
    np.testing.assert_array_equal(results[0], results[1])


def test_supervised_entry_trains_and_reconstructs(scans, tmp_path):
    directory = tmp_path / "supervised"
    directory.mkdir()
    save_ptychopinn_training_data(directory / "scan.npz", scans["train"].reconstruct_input)
    queue = Queue()
    sub.run_train(train_payload(directory, "Supervised", grid_size_x=1, grid_size_y=1, num_channels=1), queue)
    output = pickle.loads(queue.items[0][1])
    assert output.progress == 2 and all(np.isfinite(v.value) for v in output.training_loss)
    checkpoint = Path(queue.items[1][1])
    queue = Queue()
    sub.run_reconstruct(ReconstructPayload("Supervised", checkpoint, scans["test"].reconstruct_input), queue)
    array = pickle.loads(queue.items[0][1]).product.object_.get_layer(0)
    assert array.dtype == np.complex64 and array.ndim == 2 and np.all(np.isfinite(array))


def test_t9_errors_say_what_to_do(tmp_path, scans, trained):
    from ptycho_torch.api.base_api import ConfigManager, PtychoDataLoader

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no training data in .*Export Training Data"):
        sub.run_train(train_payload(empty), Queue())
    only_outputs = tmp_path / "outputs"
    only_outputs.mkdir()
    np.savez(only_outputs / "reconstruction.npz", amplitude=np.ones((4, 4)))
    with pytest.raises(FileNotFoundError, match="reconstruction.npz"):
        sub.run_train(train_payload(only_outputs), Queue())
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    save_ptychopinn_training_data(data_dir / "scan.npz", scans["train"].reconstruct_input)
    with pytest.raises(ValueError, match="'Model Size' is 128; set 'Model Size' to 64"):
        sub.run_train(train_payload(data_dir, model_size=128), Queue())
    with pytest.raises(ValueError, match="Supervised training needs a ground-truth object"):
        constant = tmp_path / "constant"
        constant.mkdir()
        scan = scans["train"]
        product = scan.reconstruct_input.product
        flat = Object(array=np.ones_like(product.object_.get_layer(0)), pixel_geometry=product.object_.get_pixel_geometry(),
                      center=product.object_.get_center())
        flat_input = ReconstructInput(scan.reconstruct_input.diffraction_patterns, scan.reconstruct_input.bad_pixels,
                                      Product(product.metadata, product.probe_positions, product.probes, flat, []))
        save_ptychopinn_training_data(constant / "scan.npz", flat_input)
        sub.run_train(train_payload(constant, "Supervised", grid_size_x=1, grid_size_y=1, num_channels=1), Queue())
    with pytest.raises(RuntimeError, match="no model checkpoint has been loaded"):
        sub.run_reconstruct(ReconstructPayload("Unsupervised", None, scans["test"].reconstruct_input), Queue())
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        sub.run_reconstruct(ReconstructPayload("Unsupervised", tmp_path / "missing.ckpt",
                                               scans["test"].reconstruct_input), Queue())
    configs = stock_configs(model_size=64, grid_size_x=1, grid_size_y=1, num_channels=1)
    manager = ConfigManager(*configs[:4], datagen_config=configs[4])
    patterns = np.zeros((4, 32, 32), dtype=np.uint16)
    with pytest.raises(ValueError, match="trained on 64×64 patterns but Ptychodus passes 32×32"):
        PtychoDataLoader.from_np(diff_patterns=patterns, probe=np.ones((64, 64)), positions=np.zeros((4, 2)),
                                 config_manager=manager)


def test_t10_from_np_leaves_read_only_and_memmap_inputs_unchanged(tmp_path, scans):
    from ptycho_torch.api.base_api import ConfigManager, PtychoDataLoader

    configs = stock_configs(model_size=64, grid_size_x=1, grid_size_y=1, num_channels=1)
    manager = ConfigManager(*configs[:4], datagen_config=configs[4])
    source = scans["test"].reconstruct_input
    counts = np.asarray(source.diffraction_patterns).astype(np.uint32)
    mapped = np.lib.format.open_memmap(tmp_path / "counts.npy", mode="w+", dtype=np.uint32, shape=counts.shape)
    mapped[:] = counts
    mapped.flush()
    readonly = np.load(tmp_path / "counts.npy", mmap_mode="r")
    positions = np.column_stack([scans["test"].sim.ycoords, scans["test"].sim.xcoords])
    for patterns in (readonly, mapped):
        before = np.array(patterns, copy=True)
        loader = PtychoDataLoader.from_np(diff_patterns=patterns, probe=source.product.probes.get_probe_no_opr()
                                          .get_array(), positions=positions, config_manager=manager)
        np.testing.assert_array_equal(np.asarray(patterns), before)
        assert loader.container.X.dtype == np.float32 and len(loader.container) == counts.shape[0]
        np.testing.assert_allclose(loader.positions_xy, np.column_stack([positions[:, 1], positions[:, 0]]))


def test_accepted_stock_settings_are_logged_in_the_child(tmp_path, scans, caplog):
    caplog.set_level(logging.INFO)
    directory = tmp_path / "d"
    directory.mkdir()
    save_ptychopinn_training_data(directory / "scan.npz", scans["train"].reconstruct_input)
    sub.run_train(train_payload(directory, epochs=1, grid_size_x=1, grid_size_y=1, num_channels=1), Queue())
    text = caplog.text
    assert "'CBAM Encoder' is on" in text
    assert "training will fall back to CPU" in text or "no CUDA device is available" in text
    assert "PtychoPINN-Torch epoch 1/1: train_loss=" in text
    assert "PtychoPINN-Torch: best checkpoint" in text


def _library(model_size: int = 64, grid: int = 1):
    """Ptychodus's own PtychoPINN-Torch library with the settings a user would change."""
    from ptychodus.model.ptychopinn_torch.core import PtychoPINNTorchReconstructorLibrary

    library = PtychoPINNTorchReconstructorLibrary(SettingsRegistry(), False)
    library.data_settings.model_size.set_value(model_size)
    library.data_settings.grid_size_x.set_value(grid)
    library.data_settings.grid_size_y.set_value(grid)
    library.data_settings.num_channels.set_value(grid * grid)
    library.training_settings.epochs.set_value(2)
    library.training_settings.num_dataloader_workers.set_value(0)
    return library, {r.name: r for r in library}["Unsupervised"]


@pytest.mark.slow
def test_t11_stock_subprocess_reconstructor_trains_saves_reopens_and_reconstructs(scans, tmp_path):
    """The real SubprocessReconstructor through spawned children: export → Train → save the
    model under another name → a fresh session opens it → Infer."""
    _, reconstructor = _library(grid=2)
    directory = tmp_path / "train"
    directory.mkdir()
    reconstructor.export_training_data(directory / "scan.npz", scans["train"].reconstruct_input)
    outputs = list(reconstructor.train(directory, directory))
    assert outputs and outputs[-1].progress == 2 and len(outputs[-1].training_loss) == 2
    assert reconstructor.is_model_loaded()
    saved = tmp_path / "my model.ckpt"
    reconstructor.save_model(saved)
    _, session = _library(grid=2)
    session.load_model_from_file(saved)
    results = list(session.reconstruct(scans["test"].reconstruct_input))
    array = results[-1].product.object_.get_layer(0)
    given = scans["test"].reconstruct_input.product.object_
    assert array.dtype == np.complex64 and abs(array.shape[0] - given.get_layer(0).shape[0]) <= 1
    assert results[-1].product.object_.get_center() == given.get_center() and np.all(np.isfinite(array))


@pytest.mark.slow
def test_t12_stock_ptychodus_batch_reconstruct_with_model_ckpt(scans, trained, tmp_path):
    import shutil
    import subprocess
    import sys

    from ptychodus.api.assemble import AssembledDiffractionData
    from ptychodus.api.io import StandardFileLayout, load_product, save_diffraction_data, save_product

    given = scans["test"].reconstruct_input
    directory = tmp_path / "in"
    directory.mkdir()
    m = given.diffraction_patterns.shape[0]
    save_diffraction_data(directory / StandardFileLayout.DIFFRACTION, AssembledDiffractionData(
        indexes=np.arange(m), patterns=np.array(given.diffraction_patterns),
        pixel_geometry=PixelGeometry(width_m=75e-6, height_m=75e-6), bad_pixels=given.bad_pixels))
    save_product(directory / StandardFileLayout.PRODUCT, given.product)
    (directory / StandardFileLayout.SETTINGS).write_text(
        "[Processing]\nAlgorithm = ptychopinn-torch_unsupervised\n[PtychoPINNTorchData]\nmodel_size = 64\n"
        "grid_size_x = 2\ngrid_size_y = 2\n")
    shutil.copyfile(trained[2], directory / f"{StandardFileLayout.MODEL_BASENAME}.ckpt")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "ptychodus", "-b", "reconstruct", "-i", str(directory), "-o",
                           str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    products = sorted(out.glob("product*.h5"))
    assert len(products) == 1, (products, done.stderr[-2000:])
    array = load_product(products[0]).object_.get_array()
    assert array.shape[0] == 1 and np.all(np.isfinite(array))
    assert abs(array.shape[1] - given.product.object_.get_layer(0).shape[0]) <= 1
