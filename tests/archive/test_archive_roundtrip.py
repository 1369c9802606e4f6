"""Archive writer/reader round trip, atomicity, path rules and the accepted physical forms."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.archive import (
    ArchiveBackendMismatchError,
    archive_path_for_prefix,
    load_archive,
    open_archive,
    read_manifest_only,
    save_archive,
    save_multiple_models,
    save_to_prefix,
)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_layout_manifest_and_checksums(saved_archive, archive_fields):
    fields = archive_fields()
    with zipfile.ZipFile(saved_archive) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names[0] == "manifest.json"  # readers find it first
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        assert not any(i.is_dir() for i in infos)
    members = _members(saved_archive)
    assert set(members) == {
        "manifest.json", "params.json", "probe.npy", "history.json", "reproducibility.json",
        "autoencoder/model.pt", "diffraction_to_obj/model.pt",
    }
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "ptychopinn-model-archive"
    assert manifest["format_version"] == "3.1"
    assert manifest["backend"] == "pytorch"
    assert manifest["models"] == ["autoencoder", "diffraction_to_obj"]
    assert manifest["model_type"] == "pinn"
    assert manifest["completed"] is True
    assert isinstance(manifest["ptychopinn_version"], str) and manifest["ptychopinn_version"]
    created = datetime.strptime(manifest["created_utc"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((datetime.now(timezone.utc).replace(tzinfo=None) - created).total_seconds()) < 300
    assert manifest["framework_versions"] == {"npzweights": "1.0", "numpy": np.__version__}
    # every member except the manifest itself is listed with its sha256
    assert set(manifest["files"]) == set(members) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert digest == hashlib.sha256(members[name]).hexdigest(), name
    # payloads are the codec's own format (npz), byte-identical to a direct save
    with np.load(io.BytesIO(members["diffraction_to_obj/model.pt"]), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["kernel"], fields["models"]["diffraction_to_obj"].weights["kernel"])


def test_params_json_content(saved_archive, archive_fields):
    fields = archive_fields()
    params = json.loads(_members(saved_archive)["params.json"])
    s = math.sqrt(1e6) / 32
    assert params["schema"] == "ptychopinn.params/1"
    assert params["intensity_scale"] == pytest.approx(s, rel=1e-15)
    assert params["legacy"]["intensity_scale"] == params["intensity_scale"]  # §7.3: legacy holds s
    assert params["intensity_scale_trained"] == pytest.approx(29.5)
    assert params["N"] == 64 and params["gridsize"] == 1
    assert params["model_config"] == dataclasses.asdict(fields["model_config"])
    tc = params["training_config"]
    assert "model" not in tc
    assert tc["train_data_file"] == "data/train.npz" and tc["output_dir"] == "training_outputs"
    assert tc["seed"] == 7 and tc["nphotons"] == 1e6 and tc["backend"] == "pytorch"
    legacy = params["legacy"]
    # legacy flat keys (KEY_MAPPINGS) derived from the training configuration
    assert legacy["N"] == 64 and legacy["object.big"] is True and legacy["train_data_file_path"] == "data/train.npz"
    repro = json.loads(_members(saved_archive)["reproducibility.json"])
    assert repro["seed"] == 7
    assert repro["determinism"] == {"deterministic": True}
    assert repro["package_versions"]["numpy"] == np.__version__
    assert repro["package_versions"]["npzweights"] == "1.0"


def test_round_trip_load(saved_archive, archive_fields, kit):
    fields = archive_fields()
    codec = kit.NpzWeightsCodec()
    loaded = load_archive(saved_archive, codec)
    assert loaded.backend == "pytorch"
    assert set(loaded.models) == {"autoencoder", "diffraction_to_obj"}
    for name, model in fields["models"].items():
        for key, value in model.weights.items():
            np.testing.assert_array_equal(loaded.models[name].weights[key], value)
            assert loaded.models[name].weights[key].dtype == value.dtype
    assert loaded.model_config == fields["model_config"]
    assert loaded.training_config == fields["training_config"]
    assert loaded.training_config.model is loaded.model_config
    assert loaded.intensity_scale == fields["intensity_scale"]
    assert loaded.intensity_scale_trained == pytest.approx(29.5)
    assert loaded.probe.dtype == np.complex64 and loaded.probe.shape == (64, 64)
    np.testing.assert_array_equal(loaded.probe, fields["probe"])
    assert loaded.history == {"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0]}
    assert loaded.legacy_params["intensity_scale"] == loaded.intensity_scale
    assert loaded.manifest["files"].keys() >= {"probe.npy"}
    assert loaded.info.archive_sha256 == hashlib.sha256(saved_archive.read_bytes()).hexdigest()
    assert loaded.info.manifest_sha256 == hashlib.sha256(_members(saved_archive)["manifest.json"]).hexdigest()
    assert loaded.info.reproducibility["seed"] == 7
    # only the requested model is returned, but every payload is decoded and verified (issue #15 item 6)
    codec2 = kit.NpzWeightsCodec()
    only = load_archive(saved_archive, lambda backend: codec2, model_names=["diffraction_to_obj"])
    assert list(only.models) == ["diffraction_to_obj"] and codec2.loads == ["diffraction_to_obj", "autoencoder"]


def test_gridsize_and_supervised_round_trip(tmp_path, archive_fields, kit):
    fields = archive_fields(gridsize=2)
    path = save_archive(tmp_path / "g2.zip", **fields)
    loaded = load_archive(path, kit.NpzWeightsCodec())
    assert loaded.model_config.gridsize == 2
    assert loaded.models["diffraction_to_obj"].input_shape == (64, 64, 4)
    # supervised: model_type flows from model_config into the manifest
    from ptychopinn_plugin.config import ModelConfig
    mc = ModelConfig(N=64, model_type="supervised")
    sup = archive_fields(model_config=mc, training_config=None)
    path = save_archive(tmp_path / "sup.zip", **sup)
    info = read_manifest_only(path)
    assert info.model_type == "supervised" and info.training_config is None
    with pytest.raises(ValueError, match="model_type"):
        save_archive(tmp_path / "bad.zip", **archive_fields(model_type="supervised"))


def test_nonfinite_history_and_trained_scale(tmp_path, archive_fields, kit):
    fields = archive_fields(history={"loss": [1.0, float("nan"), np.inf], "val_loss": [-np.inf]},
                            intensity_scale_trained=float("nan"))
    path = save_archive(tmp_path / "nan.zip", **fields)
    members = _members(path)

    def strict(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    history = json.loads(members["history.json"], parse_constant=strict)
    assert history == {"loss": [1.0, "NaN", "Infinity"], "val_loss": ["-Infinity"]}
    info = read_manifest_only(path)
    assert info.history["loss"][0] == 1.0 and math.isnan(info.history["loss"][1])
    assert info.history["loss"][2] == math.inf and info.history["val_loss"] == [-math.inf]
    assert math.isnan(info.intensity_scale_trained)
    with pytest.raises(ValueError, match="intensity_scale"):
        save_archive(tmp_path / "bad.zip", **archive_fields(intensity_scale=float("nan")))
    with pytest.raises(ValueError, match="intensity_scale"):
        save_archive(tmp_path / "bad.zip", **archive_fields(intensity_scale=0.0))
    assert not (tmp_path / "bad.zip").exists()


def test_legacy_params_are_made_consistent(tmp_path, archive_fields):
    legacy = {"N": 128, "gridsize": 1, "probe": np.ones((64, 64, 1), np.complex64), "nphotons": np.float64(1e6),
              "intensity_scale": 123.0, "timestamp": "2025-01-01", "nepochs": np.int64(3)}
    path = save_archive(tmp_path / "a.zip", **archive_fields(legacy_params=legacy))
    params = json.loads(_members(path)["params.json"])
    assert "probe" not in params["legacy"]  # arrays live in probe.npy
    assert params["legacy"]["N"] == 64  # forced to the archived ModelConfig
    assert params["legacy"]["intensity_scale"] == params["intensity_scale"] != 123.0
    assert params["legacy"]["nepochs"] == 3 and params["legacy"]["timestamp"] == "2025-01-01"
    with pytest.raises(ValueError, match="legacy.bad"):
        save_archive(tmp_path / "b.zip", **archive_fields(legacy_params={"bad": np.zeros(3)}))


def test_probe_shape_and_model_names_validated(tmp_path, archive_fields, kit):
    with pytest.raises(ValueError, match=r"probe has shape \(32, 32\)"):
        save_archive(tmp_path / "a.zip", **archive_fields(probe=kit.probe(32)))
    fields = archive_fields(probe=kit.probe(64)[..., None])  # legacy (N, N, 1) accepted
    info = read_manifest_only(save_archive(tmp_path / "b.zip", **fields))
    assert info.probe.shape == (64, 64)
    for bad in ("../x", "a/b", "manifest.json", ""):
        with pytest.raises(ValueError, match="invalid model name"):
            save_archive(tmp_path / "c.zip", **archive_fields(models={bad: kit.tiny_model(64, 1, 0)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]


class _FailingCodec:
    """Writes the first payload, then fails like a full disk on the second."""

    backend = "pytorch"
    payload_filename = "model.pt"

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def framework_versions(self):
        return {}

    def save_model(self, model, path):
        self.calls += 1
        if self.calls == 2:
            path.write_bytes(b"partial")
            raise OSError("No space left on device")
        self.inner.save_model(model, path)


def test_atomic_save_failure_leaves_nothing(tmp_path, archive_fields, kit):
    out = tmp_path / "out"
    out.mkdir()
    failing = _FailingCodec(kit.NpzWeightsCodec())
    with pytest.raises(OSError, match="No space left"):
        save_archive(out / "wts.h5.zip", **archive_fields(codec=failing))
    assert failing.calls == 2
    assert list(out.iterdir()) == []  # no archive, no temp file, no staging directory
    # an existing archive survives a failed overwrite byte for byte
    good = save_archive(out / "wts.h5.zip", **archive_fields())
    before = good.read_bytes()
    with pytest.raises(OSError):
        save_archive(good, **archive_fields(codec=_FailingCodec(kit.NpzWeightsCodec())))
    assert good.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["wts.h5.zip"]


def test_codec_must_write_a_regular_file(tmp_path, archive_fields):
    class DirCodec(_FailingCodec):
        def save_model(self, model, path):
            path.mkdir()

    with pytest.raises(ValueError, match="regular file"):
        save_archive(tmp_path / "a.zip", **archive_fields(codec=DirCodec(None)))
    assert list(tmp_path.iterdir()) == []


def test_save_multiple_models_and_prefix_rule(tmp_path, archive_fields):
    fields = archive_fields()
    models = fields.pop("models")
    s = fields.pop("intensity_scale")
    path = save_multiple_models(models, tmp_path / "bundle" / "mymodel", s, **fields)
    assert path == tmp_path / "bundle" / "mymodel.zip" and path.is_file()

    target = save_to_prefix(tmp_path / "outdir", **archive_fields())
    assert target == tmp_path / "outdir" / "wts.h5.zip" and target.is_file()
    target = save_to_prefix(str(tmp_path / "chosen.zip"), **archive_fields())
    assert target == tmp_path / "chosen.zip" and target.is_file()
    assert archive_path_for_prefix("a/b") == Path("a/b/wts.h5.zip")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        archive_path_for_prefix(tmp_path / "afile")
    with pytest.raises(ValueError, match="is a directory"):
        save_archive(tmp_path / "outdir", **archive_fields())


def test_backend_consistency_on_save(tmp_path, archive_fields, kit):
    with pytest.raises(ValueError, match="training_config.backend"):
        save_archive(tmp_path / "a.zip", **archive_fields(codec=kit.NpzWeightsCodec(backend="tensorflow", payload_filename="model.keras")))
    with pytest.raises(ValueError, match="payload_filename"):
        save_archive(tmp_path / "a.zip", **archive_fields(codec=kit.NpzWeightsCodec(payload_filename="model.npz")))
    path = save_archive(tmp_path / "tf.zip", **archive_fields(backend="tensorflow"))
    assert "diffraction_to_obj/model.keras" in _members(path)
    with pytest.raises(ArchiveBackendMismatchError):
        load_archive(path, kit.NpzWeightsCodec())  # a pytorch codec for a tensorflow archive


# ---------------------------------------------------------------- physical forms
def test_renamed_archive_directory_and_h5_forms(saved_archive, tmp_path, kit):
    renamed = tmp_path / "My Model (copy).zip"
    shutil.copyfile(saved_archive, renamed)
    assert read_manifest_only(renamed).form == "zip"
    # a directory containing wts.h5.zip, and the legacy '.../wts.h5' spelling (§2.4)
    assert read_manifest_only(saved_archive.parent).path == saved_archive
    assert read_manifest_only(saved_archive.parent / "wts.h5").path == saved_archive
    loaded = load_archive(renamed, kit.NpzWeightsCodec(), model_names=["diffraction_to_obj"])
    assert loaded.info.path == renamed
    with pytest.raises(FileNotFoundError, match="wts.h5.zip"):
        read_manifest_only(tmp_path / "empty-dir-that-does-not-exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="training creates"):
        read_manifest_only(tmp_path / "empty")


def test_unpacked_directory_form(saved_archive, tmp_path, archive_fields, kit):
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(saved_archive) as zf:  # trusted archive we just wrote
        zf.extractall(unpacked)
    info = read_manifest_only(unpacked)
    assert info.form == "directory" and info.archive_sha256 is None
    assert info.manifest_sha256 == read_manifest_only(saved_archive).manifest_sha256
    loaded = load_archive(unpacked, kit.NpzWeightsCodec())
    np.testing.assert_array_equal(loaded.models["autoencoder"].weights["bias"],
                                  archive_fields()["models"]["autoencoder"].weights["bias"])
    # tampering with a file on disk is detected like a tampered zip member
    probe = unpacked / "probe.npy"
    data = bytearray(probe.read_bytes())
    data[-1] ^= 0xFF
    probe.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256 mismatch for archive member 'probe.npy'"):
        read_manifest_only(unpacked)


def test_unpacked_directory_refuses_symlinks_and_extras(saved_archive, tmp_path, kit, sandbox_tmp):
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(saved_archive) as zf:
        zf.extractall(unpacked)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (unpacked / "extra.txt").write_text("x")
    with pytest.raises(ValueError, match="archive member 'extra.txt' is not listed"):
        read_manifest_only(unpacked)
    (unpacked / "extra.txt").unlink()
    payload = unpacked / "diffraction_to_obj" / "model.pt"
    payload.unlink()
    payload.symlink_to(secret)
    codec = kit.NpzWeightsCodec()
    with pytest.raises(ValueError, match=r"unsafe archive member 'diffraction_to_obj/model.pt'.*symbolic link"):
        load_archive(unpacked, codec)
    payload.unlink()
    (unpacked / "diffraction_to_obj").rmdir()
    (unpacked / "diffraction_to_obj").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match=r"unsafe archive member 'diffraction_to_obj'.*symbolic link"):
        load_archive(unpacked, codec)
    assert codec.loads == [] and list(sandbox_tmp.iterdir()) == []


def test_outer_zip_form(saved_archive, tmp_path, kit, sandbox_tmp):
    outer = tmp_path / "saved_from_ptychodus.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(saved_archive, "wts.h5.zip")
        zf.writestr("history.json", "{}")
        zf.writestr("reconstructed_amplitude.png", b"\x89PNG not really")
    info = read_manifest_only(outer)
    assert info.form == "outer-zip" and info.path == outer
    assert info.archive_sha256 == hashlib.sha256(saved_archive.read_bytes()).hexdigest()
    loaded = load_archive(outer, kit.NpzWeightsCodec(), model_names=["diffraction_to_obj"])
    assert loaded.models["diffraction_to_obj"].input_shape == (64, 64, 1)
    assert list(sandbox_tmp.iterdir()) == []  # the inner copy was removed
    # the outer zip's members obey the same safety rules
    evil_outer = tmp_path / "evil_outer.zip"
    with zipfile.ZipFile(evil_outer, "w") as zf:
        zf.write(saved_archive, "wts.h5.zip")
        zf.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="unsafe archive member '../escape.txt'"):
        read_manifest_only(evil_outer)
    # and so do the inner archive's members
    bad_inner = kit.rezip(saved_archive, tmp_path / "bad_inner.zip", add=[("../inner.txt", b"x")])
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.write(bad_inner, "wts.h5.zip")
    with pytest.raises(ValueError, match=r"unsafe archive member '../inner.txt' in .*nested.zip!wts.h5.zip"):
        read_manifest_only(nested)
    assert list(sandbox_tmp.iterdir()) == []
    assert not (tmp_path.parent / "escape.txt").exists() and not (tmp_path.parent / "inner.txt").exists()


def test_handle_extracts_into_private_temp_and_cleans_up(saved_archive, kit, sandbox_tmp):
    with open_archive(saved_archive) as handle:
        assert list(sandbox_tmp.iterdir()) == []  # validation alone writes nothing
        payload = handle.extract_payload("diffraction_to_obj")
        assert payload.is_file() and sandbox_tmp in payload.parents
        assert hashlib.sha256(payload.read_bytes()).hexdigest() == handle.info.manifest["files"]["diffraction_to_obj/model.pt"]
        model = handle.load_model("autoencoder", kit.NpzWeightsCodec())
        assert model.input_shape == (64, 64, 1)
    assert list(sandbox_tmp.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        handle.extract_payload("autoencoder")


def test_read_manifest_only_imports_no_framework(saved_archive):
    code = (
        "import sys, ptychopinn_plugin.archive as a\n"
        f"info = a.read_manifest_only({str(saved_archive)!r})\n"
        "assert info.N == 64 and info.backend == 'pytorch'\n"
        "bad = [m for m in ('tensorflow', 'torch', 'keras', 'lightning', 'PyQt5') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_copy_archive_from_every_form(saved_archive, tmp_path, sandbox_tmp):
    from ptychopinn_plugin.archive import copy_archive

    original = saved_archive.read_bytes()
    dest_dir = tmp_path / "dest"
    dest_dir.mkdir()
    assert copy_archive(saved_archive, dest_dir) == dest_dir / "wts.h5.zip"
    assert (dest_dir / "wts.h5.zip").read_bytes() == original  # byte for byte
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(saved_archive, "wts.h5.zip")
        zf.writestr("notes.txt", "x")
    assert copy_archive(outer, tmp_path / "from_outer.zip").read_bytes() == original
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(saved_archive) as zf:
        zf.extractall(unpacked)
    rezipped = copy_archive(unpacked, tmp_path / "from_dir.zip")
    assert _members(rezipped) == _members(saved_archive)  # same members, same bytes
    assert read_manifest_only(rezipped).manifest_sha256 == read_manifest_only(saved_archive).manifest_sha256
    assert list(sandbox_tmp.iterdir()) == []
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("x.txt", "x")
    with pytest.raises(ValueError, match="not a ptychopinn model archive"):
        copy_archive(bad, tmp_path / "never.zip")
    assert not (tmp_path / "never.zip").exists()
