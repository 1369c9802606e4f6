"""ptycho_torch configs, their translation and checks (specs/ptycho_torch_compat.md T2, T3, T7, T8,
and the light parts of T9)."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ptycho_torch import config_bridge
from ptycho_torch.api.base_api import ConfigManager
from ptycho_torch.config_params import DataConfig, DatagenConfig, InferenceConfig, ModelConfig, TrainingConfig
from ptycho_torch.lightning_utils import find_best_checkpoint
from ptychopinn_plugin.physics.stitching import StitchFrame, stitch_onto_frame


def _run_fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_t2_config_import_is_light_and_ptychodus_does_not_import_it():
    out = _run_fresh("""
        import sys
        import ptycho_torch, ptycho_torch.config_params, ptycho_torch.api, ptycho_torch.api.base_api
        print(sorted(m for m in ('torch', 'lightning', 'tensordict', 'tensorflow', 'PyQt5') if m in sys.modules))
    """)
    assert out == "[]"
    pytest.importorskip("ptychodus")
    out = _run_fresh("""
        import sys
        import ptychodus.model
        print('ptycho_torch' in sys.modules)
    """)
    assert out == "False"


def test_t3_ptychodus_builds_picklable_configs_for_both_modes():
    pytest.importorskip("ptychodus")
    from ptychodus.api.settings import SettingsRegistry
    from ptychodus.model.ptychopinn_torch import reconstructor as rec
    from ptychodus.model.ptychopinn_torch.settings import (
        PtychoPINNTorchDataSettings,
        PtychoPINNTorchInferenceSettings,
        PtychoPINNTorchModelSettings,
        PtychoPINNTorchTrainingSettings,
    )

    registry = SettingsRegistry()
    settings = (PtychoPINNTorchDataSettings(registry), PtychoPINNTorchModelSettings(registry),
                PtychoPINNTorchTrainingSettings(registry), PtychoPINNTorchInferenceSettings(registry))
    for mode in ("Unsupervised", "Supervised"):
        configs = rec._build_configs(mode, *settings)
        kinds = (DataConfig, ModelConfig, TrainingConfig, InferenceConfig, DatagenConfig)
        assert [type(c) for c in configs] == list(kinds)
        for config in configs:
            assert pickle.loads(pickle.dumps(config)) == config
        data, model, training, inference, _ = configs
        assert model.mode == mode and data.grid_size == (2, 2) and data.N == 128
        training.n_devices = 3  # Ptychodus's child writes it
        assert training.n_devices == 3
        # Every field equals our default (the defaults are Ptychodus's).
        assert data == DataConfig() and inference == InferenceConfig()
        assert model == ModelConfig(mode=mode)


def test_configs_round_trip_through_plain_dicts(caplog):
    model = ModelConfig(mode="Supervised", amp_activation="SIGMOID", loss_function="mae")
    assert model.amp_activation == "sigmoid" and model.loss_function == "MAE"
    as_dict = model.to_dict()
    assert all(isinstance(v, (str, int, float, bool, type(None), list)) for v in as_dict.values())
    assert ModelConfig.from_dict(as_dict) == model
    data = DataConfig.from_dict({**DataConfig(grid_size=(1, 1)).to_dict(), "unknown_key": 1})
    assert data.grid_size == (1, 1)
    assert "unknown_key" in caplog.text


@pytest.mark.parametrize("kwargs, match", [
    ({"N": 0}, "N"), ({"normalize": "Sometimes"}, "normalize"), ({"x_bounds": (0.1, 1.5)}, "x_bounds"),
])
def test_data_config_type_and_range_checks(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DataConfig(**kwargs)


def test_stock_defaults_are_supported():
    assert config_bridge.support_problems(DataConfig(), ModelConfig(), TrainingConfig(), InferenceConfig()) == []
    ours = config_bridge.to_model_config(DataConfig(), ModelConfig())
    assert (ours.N, ours.gridsize, ours.amp_activation, ours.offset, ours.max_position_jitter) == (128, 2, "swish", 6, 10)
    training = config_bridge.to_training_config(DataConfig(), ModelConfig(), TrainingConfig(), nphotons=1e6,
                                                output_dir=".")
    assert (training.nll_weight, training.mae_weight, training.intensity_scale_trainable) == (1.0, 0.0, False)
    assert training.neighbor_count == 6 and training.nepochs == 50


REFUSED = [
    ("data", "neighbor_function", "Min_dist", "Neighbor Function"),
    ("data", "probe_normalize", False, "Normalize Probe"),
    ("data", "probe_ramp_removal", True, "Probe Ramp Removal"),
    ("data", "data_scaling", "Max", "Data Scaling"),
    ("model", "use_shared_decoder", True, "Shared Decoder"),
    ("model", "amp_loss", "Total_Variation", "Auxiliary Amplitude Loss Function"),
    ("model", "phase_loss", "Mean_Deviation", "Auxiliary Phase Loss Function"),
    ("model", "eca_decoder", True, "ECA Decoder"),
    ("model", "batch_norm", True, "Use Batch Normalization"),
    ("model", "edge_pad", 4, "Edge Padding"),
    ("model", "decoder_last_c_outer_fraction", 0.5, "Decoder Last C Outer Fraction"),
    ("model", "cbam_bottleneck", True, "CBAM Bottleneck"),
    ("model", "cbam_decoder", True, "CBAM Decoder"),
    ("model", "spatial_decoder", True, "Decoder Spatial Attention"),
    ("model", "eca_encoder", True, "ECA Encoder"),
    ("model", "probe_reference_coeff", 0.5, "Probe Reference Loss Coefficient"),
    ("model", "amplitude_variance_loss", True, "Amplitude Variance Loss"),
    ("training", "epochs_fine_tune", 2, "Fine Tune Epochs"),
    ("training", "enable_staged_finetuning", True, "Enable Staged Fine Tuning"),
    ("training", "n_devices", 2, "Number of GPUs"),
    ("inference", "middle_trim", 31, "Middle Trim"),
]


def _manager(changes=None):
    configs = {"data": DataConfig(), "model": ModelConfig(), "training": TrainingConfig(), "inference": InferenceConfig()}
    for (owner, name), value in (changes or {}).items():
        setattr(configs[owner], name, value)
    return ConfigManager(data_config=configs["data"], model_config=configs["model"],
                         training_config=configs["training"], inference_config=configs["inference"],
                         datagen_config=DatagenConfig())


@pytest.mark.parametrize("owner, name, value, label", REFUSED)
def test_t8_each_refused_setting_names_its_gui_label(owner, name, value, label):
    with pytest.raises(ValueError, match="not supported by ptychopinn") as info:
        _manager({(owner, name): value})
    assert f"'{label}'" in str(info.value) and repr(value) in str(info.value)


def test_t8_several_refusals_come_in_one_message():
    with pytest.raises(ValueError) as info:
        _manager({("model", "cbam_bottleneck"): True, ("training", "n_devices"): 2, ("data", "grid_size"): (2, 1)})
    message = str(info.value)
    for label in ("'CBAM Bottleneck'", "'Number of GPUs'", "'Grid Size X'"):
        assert label in message
    assert "ptychopinn-train --torch-devices 2" in message


ACCEPTED = [
    ("data", "normalize", "Group", "Normalize"),
    ("data", "scan_pattern", "Rectangular", "Scan Pattern"),
    ("data", "n_subsample", 3, "Coordinate Subsampling Factor"),
    ("model", "intensity_scale", 5.0, "Intensity Scale"),
    ("training", "notes", "hello", "MLflow Notes"),
    ("training", "finetune_stage2_lr_decoder", 0.2, "Fine Tune Stage 2 LR Decoder"),
    ("inference", "window", 10, "Window Padding"),
]


@pytest.mark.parametrize("owner, name, value, label", ACCEPTED)
def test_t8_each_accepted_setting_warns_exactly_once(owner, name, value, label, caplog):
    caplog.set_level(logging.WARNING)
    _manager({(owner, name): value, ("model", "cbam_encoder"): False})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"'{label}' = {value!r} has no effect in ptychopinn"]


def test_d1_cbam_encoder_default_trains_with_one_warning(caplog):
    caplog.set_level(logging.WARNING)
    _manager()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'CBAM Encoder' is on" in warnings[0]


def test_t9_supervised_with_a_grid_is_refused():
    with pytest.raises(ValueError, match="Supervised training needs 'Channels' = 1"):
        _manager({("model", "mode"): "Supervised"})
    _manager({("model", "mode"): "Supervised", ("data", "C"): 1, ("data", "grid_size"): (1, 1),
                ("model", "decoder_last_amp_channels"): 1, ("model", "C_model"): 1, ("model", "C_forward"): 1})


def test_offset_and_jitter_parity_names_both_labels():
    with pytest.raises(ValueError, match="'Offset' .*'Max Position Jitter'"):
        _manager({("model", "offset"): 5})


def test_t7_frame_rule_places_one_patch_by_the_positions_bounding_box():
    n, m = 8, 4
    # (x, y), asymmetric; the stitched patch sits half a pixel off the bounding box's grid,
    # so with even N its crop lands on whole frame pixels (no bilinear spread to check).
    xy = np.array([[10.0, 20.0], [13.0, 27.0], [12.5, 23.5]])
    frame = StitchFrame.around_positions(xy, n)
    h, w = frame.shape_hw
    assert (h, w) == (int(np.ceil(7 + n - 1e-6)), int(np.ceil(3 + n - 1e-6)))
    mid_x, mid_y = (10 + 13) / 2, (20 + 27) / 2
    px, py = xy[2]
    patch = np.zeros((1, n, n), dtype=np.complex64)
    lo = n // 2 - m // 2
    patch[0, lo:lo + m, lo:lo + m] = np.arange(m * m).reshape(m, m) + 1
    image = stitch_onto_frame(patch, xy[2:], frame, m)
    # Crop pixel (r, c) sits at object (x, y) = (px + c - m/2, py + r - m/2); the frame
    # holds (m_y + i - (H-1)/2, m_x + j - (W-1)/2) at pixel (i, j).
    for r in range(m):
        for c in range(m):
            i = py + r - m / 2 - mid_y + (h - 1) / 2
            j = px + c - m / 2 - mid_x + (w - 1) / 2
            assert float(i).is_integer() and float(j).is_integer()
            assert image[int(i), int(j)] == pytest.approx(r * m + c + 1, abs=1e-5)
    assert np.count_nonzero(image) == m * m


def test_find_best_checkpoint_rules(tmp_path):
    assert find_best_checkpoint(tmp_path) is None
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "last.ckpt").write_bytes(b"x")
    assert find_best_checkpoint(tmp_path) is None
    older = tmp_path / "a" / "epoch1.ckpt"
    older.write_bytes(b"x")
    newer = tmp_path / "epoch2.ckpt"
    newer.write_bytes(b"x")
    import os

    os.utime(older, (1, 1))
    assert find_best_checkpoint(tmp_path) == newer.resolve()
    best = tmp_path / "checkpoints" / "best.ckpt"
    best.parent.mkdir()
    best.write_bytes(b"x")
    os.utime(best, (0, 0))
    assert find_best_checkpoint(str(tmp_path)) == best.resolve()


def test_a_missing_torch_extra_package_is_named_at_the_first_child_call(monkeypatch):
    import importlib.util

    from ptycho_torch.api import base_api

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensordict" else real(name, *a))
    with pytest.raises(RuntimeError, match=r"needs the PyTorch extra: pip install 'ptychopinn\[torch\]'.*tensordict"):
        base_api.ConfigManager()


@pytest.mark.parametrize("members, expected", [
    ({"diffraction": np.ones((2, 4, 4), np.float32)}, "amplitude"),
    ({"diff3d": np.ones((2, 4, 4), np.float32), "bad_pixels": np.zeros((4, 4), bool)}, "intensity"),
    ({"diff3d": np.ones((2, 4, 4), np.uint16)}, "intensity"),  # 'auto': integer counts
    ({"diff3d": np.ones((2, 4, 4), np.float32)}, "amplitude"),  # 'auto': floats
])
def test_training_file_domain_is_resolved_from_the_headers(tmp_path, members, expected):
    from ptycho_torch._training_data import diffraction_domain_of

    path = tmp_path / "scan.npz"
    np.savez(path, xcoords=np.zeros(2), ycoords=np.zeros(2), probeGuess=np.ones((4, 4), np.complex64), **members)
    assert diffraction_domain_of(path) == expected
