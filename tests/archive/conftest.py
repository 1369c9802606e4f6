"""Fixtures for the archive tests: a real NumPy payload codec and zip-surgery helpers.

``NpzWeightsCodec`` is a genuine codec for a genuine format: it stores a model's weight
dictionary with ``np.savez`` (the NumPy equivalent of a torch ``state_dict``) and loads
it with ``allow_pickle=False``. It lets the archive layer be tested end to end without a
deep-learning framework. It records every load so tests can prove that no payload was
decoded when validation failed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from ptychopinn_plugin.archive import save_archive
from ptychopinn_plugin.config import ModelConfig, TrainingConfig


@dataclass
class TinyModel:
    """A 'model' that is just named weights; input shape is (N, N, C) as in TF."""

    weights: dict[str, np.ndarray]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.weights["kernel"].shape)


@dataclass
class NpzWeightsCodec:
    backend: str = "pytorch"
    payload_filename: str = "model.pt"
    loads: list[str] = field(default_factory=list)

    def framework_versions(self) -> dict[str, str]:
        return {"npzweights": "1.0"}

    def save_model(self, model: TinyModel, path: Path) -> None:
        with open(path, "xb") as handle:
            np.savez(handle, **model.weights)

    def load_model(self, path: Path, *, name: str, params: dict[str, Any]) -> TinyModel:
        self.loads.append(name)
        with np.load(path, allow_pickle=False) as npz:
            return TinyModel({key: npz[key] for key in npz.files})

    def verify_model(self, model: TinyModel, *, name: str, model_config: ModelConfig) -> None:
        expected = (model_config.N, model_config.N, model_config.gridsize ** 2)
        if model.input_shape != expected:
            raise ValueError(f"model {name!r} has input shape {model.input_shape}; expected {expected}")


def tiny_model(n: int, channels: int, seed: int) -> TinyModel:
    rng = np.random.default_rng(seed)
    return TinyModel({
        "kernel": rng.standard_normal((n, n, channels)).astype(np.float32),
        "bias": rng.standard_normal(channels).astype(np.float32),
    })


def test_probe(n: int) -> np.ndarray:
    yy, xx = np.mgrid[:n, :n] - (n / 2 - 0.5)
    return (np.exp(-(xx**2 + yy**2) / (2 * (n / 8) ** 2)) * np.exp(1j * 0.01 * xx)).astype(np.complex64)


test_probe.__test__ = False  # a helper, not a test


@pytest.fixture
def codec() -> NpzWeightsCodec:
    return NpzWeightsCodec()


@pytest.fixture
def archive_fields() -> Callable[..., dict[str, Any]]:
    """Keyword arguments of save_archive for a small but complete archive."""

    def make(*, n: int = 64, gridsize: int = 1, backend: str = "pytorch", **overrides: Any) -> dict[str, Any]:
        model_config = ModelConfig(N=n, gridsize=gridsize, n_filters_scale=1)
        training_config = TrainingConfig(
            model=model_config, train_data_file=Path("data/train.npz"), test_data_file=None,
            batch_size=8, nepochs=3, nphotons=1e6, seed=7, backend=backend,
        )
        c = gridsize * gridsize
        fields = dict(
            models={"autoencoder": tiny_model(n, c, 1), "diffraction_to_obj": tiny_model(n, c, 2)},
            codec=NpzWeightsCodec(backend=backend, payload_filename="model.pt" if backend == "pytorch" else "model.keras"),
            model_config=model_config,
            training_config=training_config,
            intensity_scale=np.sqrt(1e6) / (n / 2),
            intensity_scale_trained=np.float32(29.5),
            probe=test_probe(n),
            history={"loss": [3.0, 2.0, 1.5], "val_loss": np.array([3.5, 2.5, 2.0])},
            legacy_params=None,
            completed=True,
            reproducibility={"determinism": {"deterministic": True}},
        )
        fields.update(overrides)
        return fields

    return make


@pytest.fixture
def saved_archive(tmp_path: Path, archive_fields) -> Path:
    """A valid archive written by save_archive at tmp_path/'model'/wts.h5.zip."""
    return save_archive(tmp_path / "model" / "wts.h5.zip", **archive_fields())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rezip(src: Path, dst: Path, *, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
          add: list[tuple[zipfile.ZipInfo | str, bytes]] | None = None, rehash: bool = True,
          manifest_edit: Callable[[dict], None] | None = None) -> Path:
    """Copy an archive member by member with surgical changes.

    ``rehash`` recomputes manifest.files for replaced members (a consistent but hostile
    archive); without it the manifest keeps the original digests (tampering).
    """
    replace = dict(replace or {})
    with zipfile.ZipFile(src) as zin:  # keep each ZipInfo: mode bits (e.g. symlinks) survive
        members = {info.filename: (info, zin.read(info)) for info in zin.infolist()}
    manifest = json.loads(members["manifest.json"][1])
    for name in drop:
        members.pop(name, None)
        if rehash:
            manifest["files"].pop(name, None)
    for name, data in replace.items():
        members[name] = (members[name][0] if name in members else name, data)
        if rehash and name != "manifest.json":
            manifest["files"][name] = sha256(data)
    if manifest_edit is not None:
        manifest_edit(manifest)
    if "manifest.json" not in replace:
        members["manifest.json"] = ("manifest.json", json.dumps(manifest).encode())
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in members.values():
            zout.writestr(info, data)
        for info, data in add or []:
            zout.writestr(info, data)
    return dst


@pytest.fixture
def sandbox_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Redirect Python's temporary directory so tests can prove nothing was left there."""
    sandbox = tmp_path / "system-tmp"
    sandbox.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(sandbox))
    return sandbox


@pytest.fixture
def kit():
    """The helpers above, for test modules (conftest modules are not importable by name)."""
    import types

    return types.SimpleNamespace(
        NpzWeightsCodec=NpzWeightsCodec, TinyModel=TinyModel, tiny_model=tiny_model,
        probe=test_probe, rezip=rezip, sha256=sha256,
    )
