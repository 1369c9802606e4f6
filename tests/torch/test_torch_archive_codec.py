"""PyTorch payload codec: archive round trips, backend mismatch, strict and safe loading (api §7)."""

from __future__ import annotations

import builtins
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from ptychopinn_plugin.archive import ArchiveBackendMismatchError, load_archive, read_manifest_only, save_archive
from ptychopinn_plugin.backends.torch.archive_codec import TorchPayloadCodec
from ptychopinn_plugin.backends.torch.models import Autoencoder, DiffractionToObj, model_probe
from ptychopinn_plugin.backends.torch.predict import predict_objects, predict_outputs
from ptychopinn_plugin.backends.torch.training import train_models
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig

FAST = PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False, logger_backend="none")


def _train(container_factory, tmp_path, gridsize, architecture="cnn"):
    container = container_factory(gridsize=gridsize, n_groups=8)
    model = ModelConfig(N=64, gridsize=gridsize, n_filters_scale=1, architecture=architecture)
    cfg = TrainingConfig(model=model, nepochs=1, batch_size=4,
                         nphotons=1e6, seed=5, output_dir=tmp_path / "out", backend="pytorch")
    return container, cfg, train_models(container, cfg, FAST)


def _save(path: Path, result, cfg, codec=None) -> Path:
    return save_archive(
        path, models={"autoencoder": result.autoencoder, "diffraction_to_obj": result.diffraction_to_obj},
        codec=codec or TorchPayloadCodec(), model_config=cfg.model, training_config=cfg,
        intensity_scale=result.intensity_scale, intensity_scale_trained=result.intensity_scale_trained,
        probe=model_probe(result.autoencoder), history=result.history,
    )


@pytest.mark.parametrize("gridsize, architecture", [(1, "cnn"), (2, "cnn"), (2, "resnet")])
def test_trained_model_round_trips_through_the_archive(container_factory, tmp_path, gridsize, architecture):
    container, cfg, result = _train(container_factory, tmp_path, gridsize, architecture)
    path = _save(tmp_path / "wts.h5.zip", result, cfg)
    info = read_manifest_only(path, expected_backend="pytorch")
    assert info.manifest["backend"] == "pytorch"
    assert set(info.manifest["framework_versions"]) == {"torch", "lightning", "numpy"}
    assert "autoencoder/model.pt" in info.manifest["files"]

    loaded = load_archive(path, TorchPayloadCodec(), expected_backend="pytorch")
    d2o, ae = loaded.models["diffraction_to_obj"], loaded.models["autoencoder"]
    assert loaded.model_config.architecture == architecture
    assert isinstance(d2o, DiffractionToObj) and isinstance(ae, Autoencoder)
    assert loaded.intensity_scale == result.intensity_scale
    x, pos = container.X[:3], container.coords_nominal[:3]
    expected = predict_objects(result.diffraction_to_obj, x, pos, result.intensity_scale, batch_size=2)
    got = predict_objects(d2o, x, pos, loaded.intensity_scale, batch_size=2)
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.isfinite(got)) and np.std(np.abs(got)) > 0
    for a, b in zip(predict_outputs(result.autoencoder, x[:2], pos[:2], result.intensity_scale, batch_size=2),
                    predict_outputs(ae, x[:2], pos[:2], loaded.intensity_scale, batch_size=2)):
        np.testing.assert_array_equal(a, b)
    # the trained w and the probe came back from the state dict, not from placeholders
    np.testing.assert_array_equal(model_probe(d2o), model_probe(result.autoencoder))
    assert ae.core.scaler.scale() == pytest.approx(result.intensity_scale_trained, rel=1e-6)
    assert all(p.device.type == "cpu" for p in d2o.parameters())


class _BytesCodec:
    """Writes fixed bytes as a payload: builds archives whose *container* is valid."""

    def __init__(self, backend: str, payload: str, data: bytes) -> None:
        self.backend, self.payload_filename, self.data = backend, payload, data

    def framework_versions(self) -> dict[str, str]:
        return {}

    def save_model(self, model, path: Path) -> None:
        path.write_bytes(self.data)


def _tiny_models():
    from ptychopinn_plugin.backends.torch.models import build_models

    cfg = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    probe = np.full((64, 64), 0.5 + 0.1j, dtype=np.complex64)
    ae, d2o = build_models(cfg, intensity_scale=2.0, probe=probe, seed=0)
    return cfg, probe, ae, d2o


def _archive_with_payload(path: Path, backend: str, data: bytes) -> Path:
    cfg, probe, ae, d2o = _tiny_models()
    payload = "model.keras" if backend == "tensorflow" else "model.pt"
    return save_archive(path, models={"autoencoder": ae, "diffraction_to_obj": d2o},
                        codec=_BytesCodec(backend, payload, data), model_config=cfg, intensity_scale=2.0,
                        intensity_scale_trained=2.0, probe=probe)


def _state_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_backend_mismatch_names_both_backends(tmp_path):
    tf_archive = _archive_with_payload(tmp_path / "tf.zip", "tensorflow", b"not read")
    with pytest.raises(ArchiveBackendMismatchError, match="saved by the tensorflow backend; active backend is pytorch"):
        load_archive(tf_archive, TorchPayloadCodec(), expected_backend="pytorch")
    with pytest.raises(ArchiveBackendMismatchError, match="tensorflow.*pytorch"):
        load_archive(tf_archive, TorchPayloadCodec())  # the codec's backend is checked too
    cfg, probe, ae, d2o = _tiny_models()
    torch_archive = save_archive(tmp_path / "torch.zip", models={"autoencoder": ae, "diffraction_to_obj": d2o},
                                 codec=TorchPayloadCodec(), model_config=cfg, intensity_scale=2.0,
                                 intensity_scale_trained=2.0, probe=probe)
    with pytest.raises(ArchiveBackendMismatchError, match="saved by the pytorch backend; active backend is tensorflow"):
        read_manifest_only(torch_archive, expected_backend="tensorflow")
    assert isinstance(ArchiveBackendMismatchError("a", "b"), ValueError)


@pytest.mark.parametrize("change", ["extra", "missing"])
def test_state_dict_with_extra_or_missing_key_is_refused(tmp_path, change):
    _, _, _, d2o = _tiny_models()
    state = {k: v.clone() for k, v in d2o.state_dict().items()}
    if change == "extra":
        state["core.unexpected.weight"] = torch.zeros(3)
    else:
        del state[next(k for k in state if k.endswith("conv0.weight"))]
    path = _archive_with_payload(tmp_path / "wts.h5.zip", "pytorch", _state_bytes(state))
    with pytest.raises(ValueError, match="strict loading") as info:
        load_archive(path, TorchPayloadCodec())
    assert ("Unexpected key" if change == "extra" else "Missing key") in str(info.value)
    # the untouched state dict loads: the refusal is about the key set, not the format
    good = _archive_with_payload(tmp_path / "good.zip", "pytorch", _state_bytes(d2o.state_dict()))
    assert isinstance(load_archive(good, TorchPayloadCodec()).models["diffraction_to_obj"], DiffractionToObj)


class _OpensFile:
    """Unpickling this calls ``open(marker, 'w')``: arbitrary code at load time."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_pickled_code_in_model_pt_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    _, _, _, d2o = _tiny_models()
    state = dict(d2o.state_dict())
    state["core.scaler.log_scale"] = _OpensFile(marker)
    data = _state_bytes(state)
    # control: the payload is live — torch.load without weights_only would create the marker
    control = tmp_path / "control.txt"
    unsafe = torch.load(io.BytesIO(_state_bytes({"x": _OpensFile(control)})), weights_only=False)
    unsafe["x"].close()
    assert control.exists()

    path = _archive_with_payload(tmp_path / "wts.h5.zip", "pytorch", data)
    with pytest.raises(ValueError, match="refusing to load"):
        load_archive(path, TorchPayloadCodec())
    assert not marker.exists()


def test_verify_model_checks_n_and_gridsize():
    cfg, _, ae, d2o = _tiny_models()
    codec = TorchPayloadCodec()
    codec.verify_model(d2o, name="diffraction_to_obj", model_config=cfg)
    codec.verify_model(ae, name="autoencoder", model_config=cfg)
    with pytest.raises(ValueError, match="expected \\(B, 4, 64, 64\\)"):
        codec.verify_model(d2o, name="diffraction_to_obj", model_config=ModelConfig(N=64, gridsize=2))
    with pytest.raises(ValueError, match="expected \\(B, 1, 128, 128\\)"):
        codec.verify_model(d2o, name="diffraction_to_obj", model_config=ModelConfig(N=128, gridsize=1))
    with pytest.raises(TypeError, match="Autoencoder / DiffractionToObj"):
        codec.save_model(torch.nn.Linear(2, 2), Path("unused.pt"))
