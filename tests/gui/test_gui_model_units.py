"""Qt-free parts of the desktop app: generated parameter specs, validation, presets, data, exports."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import yaml

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, PyTorchExecutionConfig, TrainingConfig, build_config
from ptychopinn_gui.model.fields import FieldKind
from ptychopinn_gui.model.parameters import APP_CONTROLLED, ConfigForm, ParameterSet

CLASSES = (ModelConfig, TrainingConfig, PyTorchExecutionConfig, InferenceConfig)


# Cross-field rules: the other field a value needs to be valid on its own.
CONTEXT = {("PyTorchExecutionConfig", "prefetch_factor"): {"num_workers": 1}}


def _construct(cls, name, value):
    """Build ``cls`` with one field changed (required fields filled with valid values)."""
    required = {"model": ModelConfig()} if cls in (TrainingConfig, InferenceConfig) else {}
    if cls is InferenceConfig:
        required.update(model_path=".", test_data_file=".")
    required.update(CONTEXT.get((cls.__name__, name), {}))
    return cls(**required, **{name: value})


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_specs_cover_fields_with_docs(cls):
    params = ParameterSet(cls)
    expected = [f.name for f in dataclasses.fields(cls) if f.name not in APP_CONTROLLED[cls.__name__]]
    assert params.names() == expected
    for spec in params.specs:
        assert spec.doc, f"{cls.__name__}.{spec.name} has no docstring for its tooltip"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_derived_ranges_and_choices_agree_with_the_dataclass(cls):
    """Every bound/choice read from the validator source is what construction enforces."""
    checked = 0
    for spec in ParameterSet(cls).specs:
        if spec.kind == FieldKind.INT and spec.lower_bound is not None and spec.name != "n_groups":
            low = int(spec.lower_bound)
            _construct(cls, spec.name, low)
            with pytest.raises(ValueError, match=rf"\b{spec.name} = "):
                _construct(cls, spec.name, low - 1)
            checked += 1
        if spec.kind == FieldKind.FLOAT:
            if spec.maximum is not None:
                _construct(cls, spec.name, float(spec.maximum))
                with pytest.raises(ValueError, match=spec.name):
                    _construct(cls, spec.name, float(spec.maximum) * 1.01 + 1e-9)
                checked += 1
            if spec.exclusive_minimum is not None:
                with pytest.raises(ValueError, match=spec.name):
                    _construct(cls, spec.name, float(spec.exclusive_minimum))
                checked += 1
            elif spec.minimum is not None:
                _construct(cls, spec.name, float(spec.minimum))
                with pytest.raises(ValueError, match=spec.name):
                    _construct(cls, spec.name, float(spec.minimum) - 0.5)
                checked += 1
        if spec.kind == FieldKind.CHOICE and spec.name != "N":
            for choice in spec.choices:
                if choice is not None:
                    _construct(cls, spec.name, choice)
            with pytest.raises(ValueError, match=spec.name):
                _construct(cls, spec.name, "no-such-choice")
            checked += 1
    assert checked >= 3


def test_model_n_choices_are_the_allowed_sizes():
    spec = ParameterSet(ModelConfig).spec("N")
    assert spec.kind == FieldKind.CHOICE and spec.choices == (64, 128, 256)
    for n in spec.choices:
        ModelConfig(N=n)
    with pytest.raises(ValueError):
        ModelConfig(N=96)


def test_validate_reports_every_invalid_field_with_the_library_message():
    form = ConfigForm()
    form.training.set("nepochs", 0)
    form.training.set("mae_weight", 1.5)
    form.model.set("gaussian_smoothing_sigma", -1.0)
    form.inference.set("stitch_crop_size", 7)
    report = form.validate()
    expected = {}
    for key, build in (
        ("TrainingConfig.nepochs", lambda: TrainingConfig(model=ModelConfig(), nepochs=0)),
        ("TrainingConfig.mae_weight", lambda: TrainingConfig(model=ModelConfig(), mae_weight=1.5)),
        ("ModelConfig.gaussian_smoothing_sigma", lambda: ModelConfig(gaussian_smoothing_sigma=-1.0)),
        ("InferenceConfig.stitch_crop_size",
         lambda: InferenceConfig(model=ModelConfig(), model_path=".", test_data_file=".", stitch_crop_size=7)),
    ):
        with pytest.raises(ValueError) as exc:
            build()
        expected[key] = str(exc.value)
    assert report.errors == expected
    assert not report.ok


def test_validate_checks_n_against_the_data_and_warns_on_batch_size():
    form = ConfigForm()
    form.data_n = 128
    form.training.set("batch_size", 12)
    report = form.validate()
    assert set(report.errors) == {"ModelConfig.N"}
    assert "128×128" in report.errors["ModelConfig.N"]
    assert "power of two" in report.warnings["TrainingConfig.batch_size"]
    form.model.set("N", 128)
    assert form.validate().ok


def test_torch_fields_only_block_the_pytorch_backend():
    form = ConfigForm()
    form.torch.set("learning_rate", 0.0)
    assert form.validate().ok
    form.backend = "pytorch"
    assert "PyTorchExecutionConfig.learning_rate" in form.validate().errors


def test_ddp_strategy_is_refused_under_the_app_and_ddp_spawn_accepted():
    """api spec §2.6: DDP under a GUI must be ddp_spawn ('ddp' re-runs the program)."""
    form = ConfigForm()
    form.backend = "pytorch"
    form.torch.set("strategy", "ddp")
    report = form.validate()
    assert "ddp_spawn" in report.errors["PyTorchExecutionConfig.strategy"]
    with pytest.raises(ValueError, match=r"PyTorchExecutionConfig\.strategy = 'ddp'.*ddp_spawn"):
        form.execution_config()
    form.torch.set("strategy", "ddp_spawn")
    assert form.validate().ok and form.execution_config().strategy == "ddp_spawn"


def test_preset_round_trip_and_cli_compatibility(tmp_path):
    from ptychopinn_gui.model.presets import load_preset, save_preset

    form = ConfigForm()
    form.backend = "pytorch"
    form.model.set("gridsize", 2)
    form.model.set("amp_activation", "swish")
    form.training.set("nepochs", 7)
    form.training.set("seed", 3)
    form.torch.set("scheduler", "WarmupCosine")
    form.inference.set("stitch_crop_size", 32)
    path = save_preset(tmp_path / "p.yaml", form)

    other = ConfigForm()
    assert load_preset(path, other) == []
    for name in ("model", "training", "torch", "inference"):
        assert getattr(other, name).values() == getattr(form, name).values()
    assert other.backend == "pytorch"

    doc = yaml.safe_load(path.read_text())
    doc.pop("torch_execution")
    doc.pop("inference")
    config = build_config(TrainingConfig, doc)  # what ptychopinn-train --config does
    assert (config.model.gridsize, config.nepochs, config.backend) == (2, 7, "pytorch")

    (tmp_path / "bad.yaml").write_text("model:\n  gridsize: 1\nnepoch: 3\n")
    with pytest.raises(ValueError, match="nepoch"):
        load_preset(tmp_path / "bad.yaml", ConfigForm())


def test_recent_files_order_dedupe_limit(tmp_path):
    from ptychopinn_gui.model.recent import RecentFiles

    recent = RecentFiles(limit=3)
    files = [tmp_path / f"f{i}.npz" for i in range(5)]
    for f in files:
        f.write_text("x")
    for f in files[:4]:
        recent.add(f)
    recent.add(files[1])
    assert recent.items() == [str(files[1].resolve()), str(files[3].resolve()), str(files[2].resolve())]
    files[3].unlink()
    assert recent.existing() == [str(files[1].resolve()), str(files[2].resolve())]


def test_training_progress_eta():
    from ptychopinn_gui.model.progress import TrainingProgress, format_duration

    p = TrainingProgress()
    p.reset(10)
    assert p.eta_seconds() is None
    p.record(0, 10, {"loss": 2.0, "val_loss": 3.0}, elapsed=4.0)
    p.record(1, 10, {"loss": 1.0}, elapsed=6.0)
    assert p.eta_seconds() == pytest.approx(6.0 / 2 * 8)
    assert p.train_loss == [2.0, 1.0] and p.val_loss[0] == 3.0 and math.isnan(p.val_loss[1])
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "1:05"


def test_dataset_summary_photons_and_domains(tiny_sample):
    from ptychopinn_gui.model.dataset import load_npz_dataset

    amplitude = load_npz_dataset(tiny_sample[0], "amplitude")
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        diff = npz["diffraction"].astype(np.float64)
    brute = sum(float((diff[m] ** 2).sum()) for m in range(diff.shape[0])) / diff.shape[0]
    assert amplitude.summary.photons_mean == pytest.approx(brute, rel=1e-9)
    assert (amplitude.summary.n_patterns, amplitude.summary.N) == (64, 64)
    intensity = load_npz_dataset(tiny_sample[0], "intensity")  # sqrt applied: Σ A² becomes Σ A
    brute_i = sum(float(diff[m].sum()) for m in range(diff.shape[0])) / diff.shape[0]
    assert intensity.summary.photons_mean == pytest.approx(brute_i, rel=1e-6)


def test_dataset_errors_carry_the_contract_message(tmp_path, tiny_sample):
    from ptychopinn_gui.model.dataset import error_text, load_npz_dataset

    bad = tmp_path / "no_diffraction.npz"
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        np.savez(bad, **{k: npz[k] for k in npz.files if k != "diffraction"})
    with pytest.raises(KeyError) as exc:
        load_npz_dataset(bad)
    text = error_text(exc.value)
    assert "'diffraction'" in text and "'diff3d'" in text and str(bad) in text
    with pytest.raises(FileNotFoundError) as missing:
        load_npz_dataset(tmp_path / "nope.npz")
    assert "nope.npz" in error_text(missing.value)


def _product_file(tmp_path, tiny_sample):
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.io import raw_data_to_product, write_product

    raw = RawData.from_file(tiny_sample[0])
    product = raw_data_to_product(raw, pixel_size_m=2e-8, center_m=(1e-6, -3e-6), name="tiny",
                                  include_raw_data=True)
    return write_product(tmp_path / "tiny_product.h5", product), product


def test_product_import_and_product_export_geometry(tmp_path, tiny_sample):
    from ptychopinn_gui.model.dataset import load_product_dataset
    from ptychopinn_gui.model.reconstruction import Reconstruction, export_npz, export_png, export_product
    from ptychopinn_plugin.io import read_product

    path, product = _product_file(tmp_path, tiny_sample)
    loaded = load_product_dataset(path, None, "amplitude", tmp_path / "cache")
    assert loaded.summary.n_patterns == 64 and loaded.npz_path.is_file()
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        np.testing.assert_allclose(loaded.raw.xcoords, npz["xcoords"], atol=1e-6)
        np.testing.assert_allclose(loaded.raw.diff3d, npz["diffraction"], rtol=1e-6)

    rng = np.random.default_rng(0)
    canvas = (rng.random((40, 40)) * np.exp(1j * rng.uniform(-3, 3, (40, 40)))).astype(np.complex64)
    com = (60.25, 70.5)
    rec = Reconstruction(object=canvas, canvas_com=com, backend="tensorflow", label="unit", losses=[3.0, 2.0])
    out = read_product(export_product(rec, tmp_path / "out.h5", loaded))
    h, w = product.object.shape[-2:]
    assert out.object.shape == (1, 40, 40)
    np.testing.assert_allclose(out.object[0], canvas)
    assert out.object_center_x_m == pytest.approx(1e-6 + 2e-8 * (com[0] - w / 2))
    assert out.object_center_y_m == pytest.approx(-3e-6 + 2e-8 * (com[1] - h / 2))
    np.testing.assert_allclose(out.loss_values, [3.0, 2.0])
    assert "backend=tensorflow" in out.comments

    with np.load(export_npz(rec, tmp_path / "r.npz"), allow_pickle=False) as npz:
        np.testing.assert_allclose(npz["object"], canvas)
        np.testing.assert_allclose(npz["phase"], np.angle(canvas), atol=1e-6)
        assert int(npz["canvas_size"]) == 40 and tuple(npz["canvas_com"]) == com
    from matplotlib.image import imread

    assert imread(export_png(rec, tmp_path / "r.png", truth=canvas)).shape[2] in (3, 4)


def test_ground_truth_crop_matches_footprint():
    from ptychopinn_gui.model.reconstruction import Reconstruction, ground_truth_crop

    truth = (np.arange(100 * 120).reshape(100, 120)).astype(np.complex64)
    rec = Reconstruction(object=np.zeros((20, 20), np.complex64), canvas_com=(50.0, 40.0), backend="x", label="")
    crop = ground_truth_crop(rec, truth)
    # canvas pixel k ↔ object coordinate com + k − P/2 (physics §10): row 0 is y = 30, column 0 is x = 40
    np.testing.assert_array_equal(crop, truth[30:50, 40:60])
    edge = Reconstruction(object=np.zeros((20, 20), np.complex64), canvas_com=(5.0, 40.0), backend="x", label="")
    crop = ground_truth_crop(edge, truth)
    assert crop.shape == (20, 20)
    np.testing.assert_array_equal(crop[:, 5:], truth[30:50, 0:15])
    assert not crop[:, :5].any()


def test_versions_do_not_import_frameworks_or_qt():
    code = ("import json, sys\nfrom ptychopinn_gui.model.versions import package_versions\n"
            "v = package_versions()\n"
            "print(json.dumps([v, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'torch', 'keras', 'PyQt5'))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    versions, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == []
    from importlib import metadata

    assert versions["numpy"] == metadata.version("numpy")
    assert versions["torch"] == metadata.version("torch")
    try:
        assert versions["tensorflow"] == metadata.version("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        assert versions["tensorflow"] in ("not installed",) or versions["tensorflow"][0].isdigit()
    assert versions["PyQt5"] == metadata.version("PyQt5")


def test_worker_and_models_packages_are_qt_and_framework_free():
    code = ("import importlib, json, sys\n"
            "for m in ('ptychopinn_gui', 'ptychopinn_gui.model.parameters', 'ptychopinn_gui.model.dataset',\n"
            "          'ptychopinn_gui.model.reconstruction', 'ptychopinn_gui.worker.process',\n"
            "          'ptychopinn_gui.worker.child', 'ptychopinn_gui.worker.training_job',\n"
            "          'ptychopinn_gui.worker.inference_job', 'ptychopinn_gui.app'):\n"
            "    importlib.import_module(m)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'torch', 'keras', 'lightning', 'PyQt5'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_worker_messages_are_reduced_to_plain_data():
    """A framework object unpickled in the GUI would import its framework there: the channel
    rebuilds built-in subclasses (torch's TorchVersion is a ``str`` subclass) as built-ins."""
    import io
    import pickle
    from pathlib import Path

    from ptychopinn_gui.model.archive_summary import ModelSummary
    from ptychopinn_gui.worker.channel import to_plain

    class ForeignVersion(str):  # stands for torch.torch_version.TorchVersion
        pass

    class ForeignScalar(float):
        pass

    class Opaque:
        def __str__(self) -> str:
            return "opaque object"

    summary = ModelSummary(path=Path("/tmp/wts.h5.zip"), backend="pytorch", N=64, gridsize=1, model_type="pinn",
                           completed=True, created_utc="", ptychopinn_version="0", framework_versions={
                               "torch": ForeignVersion("2.13.0")}, history={"loss": [ForeignScalar(1.5)]},
                           reproducibility=None, intensity_scale=np.float32(2.0), training={}, manifest_sha256="",
                           archive_sha256=None)
    message = {"kind": "device", "framework_version": ForeignVersion("2.13.0"), "n": np.int64(3),
               "array": np.arange(3.0), "nested": [(np.float32(0.5), Opaque())], "summary": summary}
    plain = to_plain(message)

    assert type(plain["framework_version"]) is str and plain["framework_version"] == "2.13.0"
    assert type(plain["n"]) is int and plain["n"] == 3
    assert plain["array"] is message["array"]
    assert plain["nested"] == [(0.5, "opaque object")] and type(plain["nested"][0][0]) is float
    assert type(plain["summary"].framework_versions["torch"]) is str
    assert type(plain["summary"].history["loss"][0]) is float
    assert type(plain["summary"].intensity_scale) is float
    # Only built-ins, NumPy, pathlib and the app's own dataclass remain in the pickle.
    found = set()
    unpickler_classes = []

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):  # noqa: D401 - pickle API
            found.add(module.split(".")[0])
            unpickler_classes.append((module, name))
            return super().find_class(module, name)

    Recorder(io.BytesIO(pickle.dumps(plain))).load()
    assert found <= {"builtins", "numpy", "pathlib", "ptychopinn_gui", "copyreg", "_codecs"}, unpickler_classes
    assert "ForeignVersion" not in {name for _, name in unpickler_classes}


def test_default_form_groups_the_built_in_sample(tmp_path):
    """The app's default recipe (gridsize 3, 512 groups, a pool of 12) must group the
    256-position built-in sample as a user's first Train press does: 512 > 256 groups need
    oversampling (data spec §2.2), which the recipe enables."""
    from ptychopinn_gui.model.sample import prepare_sample
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data

    form = ConfigForm()
    assert form.validate().ok
    train_file, _ = prepare_sample(tmp_path)
    train = load_data(train_file)
    form.model.set("N", 64)
    config = form.training_config(train_data_file=train_file)
    assert (config.model.gridsize, config.n_groups, config.neighbor_count) == (3, 512, 12)
    container = create_ptycho_data_container(train, config)
    assert container.X.shape == (512, 64, 64, 9)
