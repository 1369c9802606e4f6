"""Legacy dictionary translation and ``ptycho.params`` behaviour (api spec §2.4–§2.5)."""

import logging
from pathlib import Path

import numpy as np
import pytest

import ptycho.params as params
from ptycho.config.config import (
    KEY_MAPPINGS,
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    dataclass_to_legacy_dict,
    load_yaml_config,
    update_legacy_dict,
)
from ptychopinn_plugin.config import build_config


def test_key_mappings_exact():
    assert KEY_MAPPINGS == {
        "object_big": "object.big",
        "probe_big": "probe.big",
        "probe_mask": "probe.mask",
        "probe_trainable": "probe.trainable",
        "intensity_scale_trainable": "intensity_scale.trainable",
        "positions_provided": "positions.provided",
        "output_dir": "output_prefix",
        "train_data_file": "train_data_file_path",
        "test_data_file": "test_data_file_path",
    }


def test_dataclass_to_legacy_dict_flattens_renames_and_stringifies():
    t = TrainingConfig(model=ModelConfig(gridsize=2, probe_big=False), train_data_file=Path("/d/train.npz"))
    flat = dataclass_to_legacy_dict(t)
    assert flat["gridsize"] == 2 and flat["probe.big"] is False
    assert flat["train_data_file_path"] == "/d/train.npz" and flat["output_prefix"] == "training_outputs"
    assert "model" not in flat and "probe_big" not in flat
    assert all(not isinstance(v, Path) for v in flat.values())


def test_update_legacy_dict_skips_none():
    cfg = {"test_data_file_path": "keep.npz", "n_subsample": 7}
    update_legacy_dict(cfg, TrainingConfig(model=ModelConfig(N=128)))
    assert cfg["test_data_file_path"] == "keep.npz" and cfg["n_subsample"] == 7 and cfg["N"] == 128


def test_initial_cfg_agrees_with_dataclass_defaults():
    assert params.cfg["N"] == 64 and params.cfg["gridsize"] == 1 and params.cfg["probe_scale"] == 4.0
    assert params.cfg["probe.mask"] is False and params.cfg["probe.big"] is True and params.cfg["nepochs"] == 50
    assert params.cfg["default_probe_scale"] == 0.7 and params.cfg["h5_path"] == "wts.h5"
    assert params.cfg["data_source"] == "generic"


def test_get_set_and_derived_keys():
    update_legacy_dict(params.cfg, TrainingConfig(model=ModelConfig(N=128, gridsize=2)))
    assert params.get("bigN") == 128 + 4 and params.get_bigN() == 132
    assert params.get_padded_size() == 142 and params.get("padding_size") == 14
    assert params.params()["bigN"] == 132
    with pytest.raises(KeyError):
        params.get("intensity_scale")
    assert params.get("intensity_scale", None) is None
    params.set("intensity_scale", 2.5)
    assert params.get("intensity_scale") == 2.5
    copy = params.params()
    copy["N"] = 1
    assert params.cfg["N"] == 128


def test_seal_warns_for_non_runtime_keys(caplog):
    params.seal()
    with caplog.at_level(logging.WARNING):
        params.set("probe", np.ones((64, 64, 1), np.complex64))
        params.set("intensity_scale", 1.0)
    assert "sealed" not in caplog.text
    with caplog.at_level(logging.WARNING):
        params.set("N", 128)
    assert "sealed" in caplog.text and params.cfg["N"] == 128
    params.unseal()


def test_cfg_is_the_library_dict():
    from ptychopinn_plugin.config import legacy_params

    assert params.cfg is legacy_params.cfg


def test_yaml_loading_nested_model_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  N: 128\n  gridsize: 2\nnepochs: 3\ntrain_data_file: a.npz\n")
    values = load_yaml_config(path)
    cfg = build_config(TrainingConfig, values)
    assert cfg.model.N == 128 and cfg.model.gridsize == 2 and cfg.nepochs == 3
    assert cfg.train_data_file == Path("a.npz")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ValueError, match=str(bad)):
        load_yaml_config(bad)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_yaml_config(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="nepoch"):
        build_config(TrainingConfig, {"nepoch": 3})
    cfg = build_config(InferenceConfig, {"N": 64}, model_path="m", test_data_file="t.npz")
    assert cfg.model.N == 64


def test_yaml_never_constructs_python_objects(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("x: !!python/object/apply:os.system ['touch " + str(tmp_path / "pwned") + "']\n")
    with pytest.raises(ValueError):
        load_yaml_config(path)
    assert not (tmp_path / "pwned").exists()
