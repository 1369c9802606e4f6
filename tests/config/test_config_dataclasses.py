"""Configuration dataclasses: defaults, validation messages, mutability, pickling."""

import dataclasses
import logging
import pickle
from pathlib import Path

import pytest

from ptychopinn_plugin.config import (
    InferenceConfig,
    ModelConfig,
    PyTorchExecutionConfig,
    TrainingConfig,
    validate_inference_config,
    validate_model_config,
    validate_training_config,
)


def test_model_defaults_match_spec_table():
    m = ModelConfig()
    assert (m.N, m.gridsize, m.n_filters_scale, m.model_type, m.architecture) == (64, 1, 2, "pinn", "cnn")
    assert (m.amp_activation, m.object_big, m.probe_big, m.probe_mask, m.pad_object) == (
        "sigmoid", True, True, False, True)
    assert (m.probe_scale, m.gaussian_smoothing_sigma, m.offset, m.max_position_jitter) == (4.0, 0.0, 4, 10)


def test_training_defaults_and_n_groups_default():
    t = TrainingConfig(model=ModelConfig())
    assert t.n_groups == 512
    assert t.batch_size == 16 and t.nepochs == 50 and t.nphotons == 1e9
    assert t.output_dir == Path("training_outputs")
    assert t.backend == "tensorflow" and t.intensity_scale_trainable and not t.probe_trainable


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("N", 100, "64, 128, 256"),
        ("gridsize", 0, ">= 1"),
        ("n_filters_scale", 0, ">= 1"),
        ("model_type", "gan", "'pinn'"),
        ("architecture", "unet", "'cnn'"),
        ("amp_activation", "tanh", "'sigmoid'"),
        ("probe_scale", 0.0, "(0.0"),
        ("gaussian_smoothing_sigma", -1.0, "[0.0"),
        ("offset", -1, ">= 0"),
        ("max_position_jitter", -2, ">= 0"),
        ("object_big", "yes", "True or False"),
    ],
)
def test_model_field_errors_name_field_value_and_range(field, value, fragment):
    with pytest.raises(ValueError) as info:
        ModelConfig(**{field: value})
    message = str(info.value)
    assert field in message and repr(value) in message and fragment in message


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("batch_size", 0, "> 0"),
        ("nepochs", 0, "> 0"),
        ("mae_weight", 1.5, "[0.0, 1.0]"),
        ("nll_weight", -0.1, "[0.0, 1.0]"),
        ("realspace_weight", -1.0, "[0.0"),
        ("tv_weight", -1.0, "[0.0"),
        ("nphotons", 0.0, "from 1 to 1e+15"),
        ("nphotons", 1e300, "mean photon count per diffraction pattern"),
        ("n_groups", 0, "> 0"),
        ("n_subsample", -3, "> 0"),
        ("neighbor_count", 0, ">= 1"),
        ("backend", "jax", "'tensorflow' or 'pytorch'"),
    ],
)
def test_training_field_errors(field, value, fragment):
    with pytest.raises(ValueError) as info:
        TrainingConfig(model=ModelConfig(), **{field: value})
    message = str(info.value)
    assert field in message and repr(value) in message and fragment in message


def test_realspace_mae_requires_realspace_weight():
    with pytest.raises(ValueError, match="realspace_weight"):
        TrainingConfig(model=ModelConfig(), realspace_mae_weight=0.5)
    TrainingConfig(model=ModelConfig(), realspace_mae_weight=0.5, realspace_weight=1.0)


def test_paths_are_converted_from_str():
    t = TrainingConfig(model=ModelConfig(), train_data_file="a/b.npz", output_dir="out")
    assert t.train_data_file == Path("a/b.npz") and isinstance(t.output_dir, Path)
    i = InferenceConfig(model=ModelConfig(), model_path="", test_data_file="x.npz")
    assert isinstance(i.model_path, Path) and isinstance(i.test_data_file, Path)


def test_n_images_is_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="n_groups"):
        t = TrainingConfig(model=ModelConfig(), n_images=33)
    assert t.n_groups == 33


def test_batch_size_power_of_two_warns_then_raises_in_strict_validation(caplog):
    with caplog.at_level(logging.WARNING):
        t = TrainingConfig(model=ModelConfig(), batch_size=12)
    assert "power of two" in caplog.text
    with pytest.raises(ValueError, match="power of two"):
        validate_training_config(t)


def test_mutable_with_unknown_n_and_picklable():
    """Ptychodus 1.7 builds the config with N=0 and assigns N later in a spawned child."""
    t = TrainingConfig(model=ModelConfig(N=0), train_data_file=Path(), test_data_file=None, output_dir=Path())
    with pytest.raises(ValueError, match="N is not set"):
        validate_model_config(t.model, require_n=True)
    t.model.N = 128
    clone = pickle.loads(pickle.dumps(t))
    assert clone == t and clone.model.N == 128
    validate_model_config(clone.model, require_n=True)


def test_supervised_requires_gridsize_one_in_strict_validation():
    t = TrainingConfig(model=ModelConfig(model_type="supervised", gridsize=2))
    with pytest.raises(ValueError, match="gridsize"):
        validate_training_config(t)


def test_stitch_crop_size_rules(tmp_path):
    with pytest.raises(ValueError, match="even"):
        InferenceConfig(model=ModelConfig(), model_path=tmp_path, test_data_file="x", stitch_crop_size=21)
    cfg = InferenceConfig(model=ModelConfig(N=64), model_path=tmp_path, test_data_file="x", stitch_crop_size=66)
    with pytest.raises(ValueError, match="N = 64"):
        validate_inference_config(cfg)


def test_inference_validation_lists_paths_tried(tmp_path):
    data = tmp_path / "d.npz"
    data.write_bytes(b"")
    cfg = InferenceConfig(model=ModelConfig(), model_path=tmp_path / "run", test_data_file=data)
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError) as info:
        validate_inference_config(cfg)
    assert "wts.h5.zip" in str(info.value) and "manifest.json" in str(info.value)
    (tmp_path / "run" / "wts.h5.zip").write_bytes(b"PK")
    validate_inference_config(cfg)
    cfg.model_path = tmp_path / "run" / "wts.h5"
    validate_inference_config(cfg)


def test_execution_config_defaults_and_errors():
    e = PyTorchExecutionConfig()
    assert e.scheduler == "ReduceLROnPlateau" and e.early_stop_patience == 3 and e.logger_backend == "csv"
    assert PyTorchExecutionConfig(logger_backend=None).logger_backend == "none"
    with pytest.raises(ValueError, match="unsupported"):
        PyTorchExecutionConfig(accelerator="tpu")
    with pytest.raises(ValueError, match="devices"):
        PyTorchExecutionConfig(devices=True)
    with pytest.raises(ValueError, match="MultiStage"):
        PyTorchExecutionConfig(scheduler="MultiStage")
    with pytest.raises(ValueError, match="num_workers > 0"):
        PyTorchExecutionConfig(persistent_workers=True)
    with pytest.raises(ValueError, match="lr_min_ratio"):
        PyTorchExecutionConfig(lr_min_ratio=-0.1)
    with pytest.raises(ValueError, match="lr_min_ratio"):
        PyTorchExecutionConfig(lr_min_ratio=1.5)
    assert PyTorchExecutionConfig(lr_min_ratio=0.0).lr_min_ratio == 0.0  # decay to zero (§4T.7.3 amendment)
    assert PyTorchExecutionConfig(devices="auto").devices == "auto"


def test_every_field_has_a_docstring_for_tooltips():
    """The GUI shows these docstrings as tooltips; a field without one is a regression."""
    import ast
    import inspect

    for cls in (ModelConfig, TrainingConfig, InferenceConfig, PyTorchExecutionConfig):
        tree = ast.parse(inspect.getsource(cls))
        body = tree.body[0].body
        documented = set()
        for node, nxt in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                documented.add(node.target.id)
        missing = {f.name for f in dataclasses.fields(cls)} - documented
        assert not missing, f"{cls.__name__} fields without docstring: {missing}"


def test_yaml_exponent_floats_are_numbers_and_object_tags_stay_refused(tmp_path):
    """PyYAML's YAML 1.1 reads ``1e9`` as a string; our loader must read it as a float,
    because photon counts are written that way, and must still refuse Python tags."""
    from ptychopinn_plugin.config import TrainingConfig, build_config, load_yaml_config

    path = tmp_path / "recipe.yaml"
    path.write_text("nphotons: 1e6\nbatch_size: 8\nmodel:\n  N: 64\n  gridsize: 2\n", encoding="utf-8")
    values = load_yaml_config(path)
    assert values["nphotons"] == 1e6 and isinstance(values["nphotons"], float)
    assert values["batch_size"] == 8 and isinstance(values["batch_size"], int)
    cfg = build_config(TrainingConfig, values)
    assert cfg.nphotons == 1e6 and cfg.model.gridsize == 2 and cfg.batch_size == 8

    path.write_text("name: 1e\nother: 1.5e-3\n", encoding="utf-8")
    assert load_yaml_config(path) == {"name": "1e", "other": 1.5e-3}

    marker = tmp_path / "ran"
    path.write_text(f"nphotons: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    with pytest.raises(ValueError, match=str(path)):
        load_yaml_config(path)
    assert not marker.exists()
