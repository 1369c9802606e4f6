"""``RawData.to_file`` (data spec §1.8): keys, dtypes, pickle-free, uncompressed, atomic."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from ptychopinn_plugin.data import RawData

EXPECTED_DTYPES = {
    "diffraction": np.float32, "xcoords": np.float64, "ycoords": np.float64, "xcoords_start": np.float64,
    "ycoords_start": np.float64, "probeGuess": np.complex64, "scan_index": np.int64,
    "objectGuess": np.complex64, "Y": np.complex64,
}


def test_round_trip_keys_dtypes_and_values(base_arrays, write_dataset, tmp_path):
    arrays = base_arrays()
    arrays["diff3d"] = (arrays.pop("diffraction") ** 2).astype(np.float64)  # legacy key, intensity
    arrays["xcoords_start"] = arrays["xcoords"] + 0.25
    arrays["ycoords_start"] = arrays["ycoords"] - 0.5
    arrays["Y"] = np.ones((12, 16, 16), dtype=np.complex128)
    arrays["scan_index"] = np.arange(12, dtype=np.int16) % 2
    arrays["_metadata"] = np.array(json.dumps({"diffraction_domain": "intensity", "source": "unit-test",
                                               "nphotons": 1e5}))
    raw = RawData.from_file(write_dataset(arrays), diffraction_domain="auto")
    out = tmp_path / "out" / "rewritten.npz"
    raw.to_file(out)

    with np.load(out, allow_pickle=False) as data:
        assert set(data.files) == set(EXPECTED_DTYPES) | {"_metadata"}
        for key, dtype in EXPECTED_DTYPES.items():
            assert data[key].dtype == dtype, key
        meta = data["_metadata"]
        assert meta.shape == () and meta.dtype.kind == "U"
        parsed = json.loads(meta.item())
    assert parsed == {"diffraction_domain": "amplitude", "source": "unit-test", "nphotons": 1e5}

    again = RawData.from_file(out, diffraction_domain="auto")  # now declared amplitude: no second sqrt
    np.testing.assert_array_equal(again.diff3d, raw.diff3d)
    np.testing.assert_allclose(again.diff3d.astype(np.float64) ** 2, arrays["diff3d"], rtol=1e-6)
    for name in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "probeGuess",
                 "objectGuess", "Y"):
        np.testing.assert_array_equal(getattr(again, name), getattr(raw, name))


def test_written_file_is_uncompressed_and_leaves_no_temp_files(base_arrays, write_dataset, tmp_path):
    raw = RawData.from_file(write_dataset(base_arrays()))
    out_dir = tmp_path / "written"
    raw.to_file(out_dir / "d.npz")
    assert sorted(p.name for p in out_dir.iterdir()) == ["d.npz"]
    with zipfile.ZipFile(out_dir / "d.npz") as archive:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def test_unknown_keys_preserved_on_rewrite(base_arrays, write_dataset, tmp_path):
    arrays = base_arrays()
    arrays["bad_pixels"] = np.eye(16, dtype=bool)
    arrays["custom"] = np.arange(7, dtype=np.int32)
    raw = RawData.from_file(write_dataset(arrays))
    raw.to_file(tmp_path / "kept.npz")
    with np.load(tmp_path / "kept.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["bad_pixels"], arrays["bad_pixels"])
        np.testing.assert_array_equal(data["custom"], arrays["custom"])
        assert "diff3d" not in data.files


def test_position_only_cannot_be_written(tmp_path):
    raw = RawData.from_coords_without_pc(np.arange(3.0), np.arange(3.0), None, np.ones((8, 8)), None)
    with pytest.raises(ValueError, match="no diffraction"):
        raw.to_file(tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())


def test_failed_write_leaves_destination_untouched(base_arrays, write_dataset, tmp_path):
    raw = RawData.from_file(write_dataset(base_arrays()))
    target = tmp_path / "target.npz"
    target.write_bytes(b"previous")
    raw.metadata = {"not_json": object()}
    with pytest.raises(ValueError, match="_metadata"):
        raw.to_file(target)
    assert target.read_bytes() == b"previous"
