"""Hostile and broken archives (api spec §7.5): each is refused with the catalogued error,
before any payload is decoded, and nothing is written outside a temporary directory.

Every test uses ``sandbox_tmp`` (Python's temp dir redirected into the test's own
directory) and asserts it is empty afterwards, and counts codec loads to prove that no
payload decoding ran.
"""

from __future__ import annotations

import io
import json
import pickletools
import stat
import struct
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.archive import (
    ArchiveBackendMismatchError,
    load_archive,
    read_manifest_only,
    save_archive,
)


def _assert_untouched(tmp_path: Path, sandbox: Path, codec, allowed: set[str]) -> None:
    assert codec.loads == [], "a payload was decoded"
    assert list(sandbox.iterdir()) == [], "temporary files were left behind"
    written = {p.name for p in tmp_path.iterdir()} - {"system-tmp"}
    assert written <= allowed, written - allowed


@pytest.fixture
def codec(kit):
    return kit.NpzWeightsCodec()


def test_zip_slip_member_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    evil = kit.rezip(saved_archive, tmp_path / "evil.zip", add=[("../evil.txt", b"pwned")])
    with pytest.raises(ValueError, match=r"unsafe archive member '\.\./evil\.txt'.*'\.\.'"):
        load_archive(evil, codec)
    assert not (tmp_path.parent / "evil.txt").exists()
    assert not (sandbox_tmp.parent / "evil.txt").exists()
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"evil.zip", "model"})


def test_nested_dotdot_and_backslash_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    for name in ("autoencoder/../../x.txt", "..\\x.txt", "a//b", "./params.json"):
        evil = kit.rezip(saved_archive, tmp_path / "evil.zip", add=[(name, b"x")])
        with pytest.raises(ValueError, match="unsafe archive member"):
            load_archive(evil, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"evil.zip", "model"})


def test_absolute_member_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    target = f"/tmp/ptychopinn-evil-{uuid.uuid4().hex}"
    evil = kit.rezip(saved_archive, tmp_path / "abs.zip", add=[(target, b"pwned")])
    with zipfile.ZipFile(evil) as zf:
        assert target in zf.namelist()  # the hostile name really is in the zip
    with pytest.raises(ValueError, match=rf"unsafe archive member '{target}'.*absolute path"):
        load_archive(evil, codec)
    assert not Path(target).exists()
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"abs.zip", "model"})


def test_symlink_member_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    # replace a payload by a symlink member pointing outside (mode bits in external_attr)
    link = zipfile.ZipInfo("diffraction_to_obj/model.pt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    target = b"/etc/passwd"
    evil = kit.rezip(saved_archive, tmp_path / "link2.zip", drop=("diffraction_to_obj/model.pt",),
                     add=[(link, target)], rehash=False,  # checksum of the link text would even match:
                     manifest_edit=lambda m: m["files"].update({"diffraction_to_obj/model.pt": kit.sha256(target)}))
    with zipfile.ZipFile(evil) as zf:
        assert stat.S_ISLNK(zf.getinfo("diffraction_to_obj/model.pt").external_attr >> 16)
    with pytest.raises(ValueError, match=r"unsafe archive member 'diffraction_to_obj/model.pt'.*symbolic link"):
        load_archive(evil, codec)
    # a FIFO / device member is refused too
    fifo = zipfile.ZipInfo("fifo")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    evil3 = kit.rezip(saved_archive, tmp_path / "fifo.zip", add=[(fifo, b"")])
    with pytest.raises(ValueError, match=r"unsafe archive member 'fifo'.*special file"):
        read_manifest_only(evil3)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"link2.zip", "fifo.zip", "model"})


def test_total_size_limit_parameter(saved_archive, tmp_path, codec, sandbox_tmp):
    with zipfile.ZipFile(saved_archive) as zf:
        total = sum(i.file_size for i in zf.infolist())
    assert read_manifest_only(saved_archive, max_total_bytes=total).N == 64  # exactly at the limit: fine
    with pytest.raises(ValueError, match=rf"unsafe archive member .*exceeds the limit of {total - 1} bytes"):
        load_archive(saved_archive, codec, max_total_bytes=total - 1)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"model"})


def _patch_central_sizes(data: bytes, new_size: int) -> bytes:
    """Rewrite the uncompressed size of every central-directory entry (cheap zip bomb header)."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    count = 0
    while pos != -1:
        struct.pack_into("<I", out, pos + 24, new_size)
        count += 1
        pos = out.find(b"PK\x01\x02", pos + 4)
    assert count >= 2
    return bytes(out)


def test_declared_size_over_4_gib_refused(tmp_path, codec, sandbox_tmp):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", b"{}")
        zf.writestr("params.json", b"{}")
    bomb.write_bytes(_patch_central_sizes(bomb.read_bytes(), 3 * 1024**3))  # 2 × 3 GiB declared
    with zipfile.ZipFile(bomb) as zf:
        assert sum(i.file_size for i in zf.infolist()) == 6 * 1024**3
    with pytest.raises(ValueError, match=r"unsafe archive member 'params.json'.*exceeds the limit of 4294967296 bytes"):
        load_archive(bomb, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"bomb.zip"})


def test_tampered_member_checksum(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    with zipfile.ZipFile(saved_archive) as zf:
        params = json.loads(zf.read("params.json"))
    params["intensity_scale"] *= 2
    params["legacy"]["intensity_scale"] *= 2
    tampered = kit.rezip(saved_archive, tmp_path / "t.zip", replace={"params.json": json.dumps(params).encode()},
                         rehash=False)
    with pytest.raises(ValueError, match=r"sha256 mismatch for archive member 'params.json'"):
        load_archive(tampered, codec)
    payload_tampered = kit.rezip(saved_archive, tmp_path / "t2.zip",
                                 replace={"autoencoder/model.pt": b"not the weights"}, rehash=False)
    with pytest.raises(ValueError, match=r"sha256 mismatch for archive member 'autoencoder/model.pt'"):
        load_archive(payload_tampered, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"t.zip", "t2.zip", "model"})


def test_missing_and_unlisted_members(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    missing = kit.rezip(saved_archive, tmp_path / "m.zip", drop=("history.json",), rehash=False)
    with pytest.raises(ValueError, match=r"archive member 'history.json' listed in manifest.json is missing"):
        load_archive(missing, codec)
    extra = kit.rezip(saved_archive, tmp_path / "e.zip", add=[("autoencoder/extra.bin", b"x")])
    with pytest.raises(ValueError, match=r"archive member 'autoencoder/extra.bin' is not listed"):
        load_archive(extra, codec)
    unlisted_payload = kit.rezip(saved_archive, tmp_path / "u.zip", drop=("diffraction_to_obj/model.pt",))
    with pytest.raises(ValueError, match=r"required archive member 'diffraction_to_obj/model.pt' is not listed"):
        load_archive(unlisted_payload, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"m.zip", "e.zip", "u.zip", "model"})


def _evil_pickle(marker: Path) -> bytes:
    """Protocol-0 pickle that calls ``open(marker, 'w')`` when unpickled (never done here)."""
    return f"cbuiltins\nopen\n(V{marker}\nVw\ntR.".encode()


def _assert_live_pickle(payload: bytes) -> None:
    ops = [op.name for op, _arg, _pos in pickletools.genops(payload)]  # parses, does not execute
    assert "GLOBAL" in ops and "REDUCE" in ops


def test_legacy_dill_manifest_refused_without_unpickling(tmp_path, codec, sandbox_tmp):
    marker = tmp_path / "PICKLE_RAN"
    payload = _evil_pickle(marker)
    _assert_live_pickle(payload)
    legacy = tmp_path / "wts.h5.zip"
    with zipfile.ZipFile(legacy, "w") as zf:
        zf.writestr("manifest.dill", payload)
        zf.writestr("params.dill", payload)
        zf.writestr("diffraction_to_obj/model.keras", b"PK")
    for call in (lambda: load_archive(legacy, codec), lambda: read_manifest_only(tmp_path)):
        with pytest.raises(ValueError) as excinfo:
            call()
        message = str(excinfo.value)
        assert "legacy" in message and "pickle" in message
        assert "ptychopinn convert-legacy-archive --trust-pickle" in message
        # issue #15 item 7: the converter does not exist, so the message says so and what to do instead
        assert "ships no converter" in message and "retrain the model with ptychopinn-train" in message
    # an unpacked legacy directory is recognised too
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    (unpacked / "manifest.dill").write_bytes(payload)
    with pytest.raises(ValueError, match="legacy pickle"):
        read_manifest_only(unpacked)
    assert not marker.exists()
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"wts.h5.zip", "unpacked"})


def test_pickled_probe_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    marker = tmp_path / "PROBE_PICKLE_RAN"
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (64, 64)})
    evil_npy = buf.getvalue() + _evil_pickle(marker)
    _assert_live_pickle(_evil_pickle(marker))
    # consistent manifest (rehash): only the loader's own allow_pickle=False rule can stop it
    evil = kit.rezip(saved_archive, tmp_path / "p.zip", replace={"probe.npy": evil_npy})
    with pytest.raises(ValueError, match=r"archive member 'probe.npy'.*Python objects.*pickle"):
        load_archive(evil, codec)
    assert not marker.exists()
    wrong = io.BytesIO()
    np.save(wrong, np.zeros((64, 64), np.float64))
    evil2 = kit.rezip(saved_archive, tmp_path / "p2.zip", replace={"probe.npy": wrong.getvalue()})
    with pytest.raises(ValueError, match=r"probe.npy.*expected complex64 \(64, 64\)"):
        load_archive(evil2, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"p.zip", "p2.zip", "model"})


def test_not_an_archive(tmp_path, codec, sandbox_tmp):
    plain = tmp_path / "other.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="not a ptychopinn model archive"):
        load_archive(plain, codec)
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a ptychopinn model archive"):
        read_manifest_only(garbage)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"other.zip", "garbage.zip"})


@pytest.mark.parametrize("version", ["2.0-pytorch", "1.0", "4.0", 3])
def test_wrong_format_version(saved_archive, tmp_path, kit, codec, sandbox_tmp, version):
    evil = kit.rezip(saved_archive, tmp_path / "v.zip",
                     manifest_edit=lambda m: m.update(format_version=version))
    with pytest.raises(ValueError) as excinfo:
        load_archive(evil, codec)
    assert repr(version) in str(excinfo.value) and "3.1" in str(excinfo.value)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"v.zip", "model"})


def test_wrong_format_name_and_newer_minor(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    evil = kit.rezip(saved_archive, tmp_path / "f.zip", manifest_edit=lambda m: m.update(format="other-format"))
    with pytest.raises(ValueError, match=r"unsupported archive format 'other-format'.*3\.1"):
        read_manifest_only(evil)
    newer = kit.rezip(saved_archive, tmp_path / "n.zip", manifest_edit=lambda m: m.update(format_version="3.7"))
    assert read_manifest_only(newer).manifest["format_version"] == "3.7"  # same major: readable
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"f.zip", "n.zip", "model"})


def test_backend_mismatch(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    message = "archive was saved by the pytorch backend; active backend is tensorflow"
    with pytest.raises(ArchiveBackendMismatchError, match=message) as excinfo:
        load_archive(saved_archive, codec, expected_backend="tensorflow")
    assert isinstance(excinfo.value, ValueError)
    assert (excinfo.value.archived, excinfo.value.active) == ("pytorch", "tensorflow")
    with pytest.raises(ArchiveBackendMismatchError, match=message):
        read_manifest_only(saved_archive, expected_backend="tensorflow")
    tf_codec = kit.NpzWeightsCodec(backend="tensorflow", payload_filename="model.keras")
    with pytest.raises(ArchiveBackendMismatchError, match=message):
        load_archive(saved_archive, lambda backend: tf_codec)
    assert tf_codec.loads == []
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"model"})


def test_missing_inference_model_lists_available(tmp_path, archive_fields, kit, codec, sandbox_tmp):
    path = save_archive(tmp_path / "ae_only.zip",
                        **archive_fields(models={"autoencoder": kit.tiny_model(64, 1, 0)}))
    with pytest.raises(KeyError) as excinfo:
        load_archive(path, codec, model_names=["diffraction_to_obj"])
    assert "diffraction_to_obj" in str(excinfo.value) and "['autoencoder']" in str(excinfo.value)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"ae_only.zip"})


def test_model_shape_mismatch_detected_by_codec_hook(tmp_path, archive_fields, kit, sandbox_tmp):
    # weights for gridsize 2 (4 channels) archived under a gridsize-1 configuration
    fields = archive_fields(models={"diffraction_to_obj": kit.tiny_model(64, 4, 0)})
    path = save_archive(tmp_path / "shape.zip", **fields)
    codec = kit.NpzWeightsCodec()
    with pytest.raises(ValueError, match=r"model 'diffraction_to_obj'.*gridsize = 1.*\(64, 64, 4\).*\(64, 64, 1\)"):
        load_archive(path, codec)
    assert list(sandbox_tmp.iterdir()) == []


def test_params_inconsistency_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    with zipfile.ZipFile(saved_archive) as zf:
        params = json.loads(zf.read("params.json"))
    stale = dict(params, legacy=dict(params["legacy"], intensity_scale=1.0))  # the original's bug
    evil = kit.rezip(saved_archive, tmp_path / "s.zip", replace={"params.json": json.dumps(stale).encode()})
    with pytest.raises(ValueError, match=r"params.json.*legacy.intensity_scale"):
        load_archive(evil, codec)
    wrong_n = dict(params, N=128)
    evil2 = kit.rezip(saved_archive, tmp_path / "n.zip", replace={"params.json": json.dumps(wrong_n).encode()})
    with pytest.raises(ValueError, match=r"params.json.*'N' = 128"):
        load_archive(evil2, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"s.zip", "n.zip", "model"})


def test_strict_json(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    with zipfile.ZipFile(saved_archive) as zf:
        text = zf.read("params.json").decode()
    nan_literal = text.replace('"intensity_scale_trained": 29.5', '"intensity_scale_trained": NaN')
    assert nan_literal != text
    evil = kit.rezip(saved_archive, tmp_path / "j.zip", replace={"params.json": nan_literal.encode()})
    with pytest.raises(ValueError, match=r"'params.json' is not valid JSON.*NaN"):
        load_archive(evil, codec)
    duplicate = text.replace('"schema":', '"N": 128, "schema":', 1)
    evil2 = kit.rezip(saved_archive, tmp_path / "d.zip", replace={"params.json": duplicate.encode()})
    with pytest.raises(ValueError, match=r"'params.json' is not valid JSON.*duplicate JSON key 'N'"):
        load_archive(evil2, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"j.zip", "d.zip", "model"})


def test_encrypted_and_too_many_members(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    raw = tmp_path / "enc.zip"
    kit.rezip(saved_archive, raw)
    data = bytearray(raw.read_bytes())
    pos = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, pos + 8, struct.unpack_from("<H", data, pos + 8)[0] | 0x1)
    raw.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"unsafe archive member 'manifest.json'.*encrypted"):
        read_manifest_only(raw)
    many = kit.rezip(saved_archive, tmp_path / "many.zip", add=[(f"junk/{i}", b"") for i in range(1001)])
    with pytest.raises(ValueError, match="more than 1000 members"):
        read_manifest_only(many)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"enc.zip", "many.zip", "model"})


def test_duplicate_member_names_refused(saved_archive, tmp_path, kit, codec, sandbox_tmp):
    with pytest.warns(UserWarning, match="Duplicate name"):
        dup = kit.rezip(saved_archive, tmp_path / "dup.zip", add=[("probe.npy", b"second copy")])
    with pytest.raises(ValueError, match=r"unsafe archive member 'probe.npy'.*duplicate"):
        read_manifest_only(dup)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"dup.zip", "model"})


def test_corrupt_member_data(saved_archive, tmp_path, codec, sandbox_tmp):
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(saved_archive) as zin, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    data = stored.read_bytes()
    pos = data.index(b"ptychopinn.params/1")
    stored.write_bytes(data[:pos] + b"X" + data[pos + 1:])  # bit rot inside params.json
    with pytest.raises(ValueError, match=r"archive member 'params.json' .*corrupt.*CRC"):
        load_archive(stored, codec)
    _assert_untouched(tmp_path, sandbox_tmp, codec, {"stored.zip", "model"})
