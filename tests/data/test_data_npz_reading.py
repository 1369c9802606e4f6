"""Reading canonical and legacy NPZ datasets: data spec §1.1–§1.6 and every row of §1.7."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from ptychopinn_plugin.data import (
    RawData,
    load_dataset_arrays,
    metadata_nphotons,
    npz_member_info,
    require_model_ready,
)

# --------------------------------------------------------------------------- basics


def test_canonical_file_loads_with_canonical_dtypes(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = arrays["diffraction"].astype(np.float64)
    arrays["objectGuess"] = arrays["objectGuess"].astype(np.complex128)
    arrays["scan_index"] = np.zeros(12, dtype=np.int32)
    raw = RawData.from_file(write_dataset(arrays))
    assert raw.diff3d.dtype == np.float32 and raw.diff3d.shape == (12, 16, 16)
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"].astype(np.float32))
    for name in ("xcoords", "ycoords", "xcoords_start", "ycoords_start"):
        assert getattr(raw, name).dtype == np.float64 and getattr(raw, name).shape == (12,)
    np.testing.assert_array_equal(raw.xcoords_start, arrays["xcoords"])  # default = true coords
    assert raw.probeGuess.dtype == np.complex64 and raw.probeGuess.shape == (16, 16)
    assert raw.objectGuess.dtype == np.complex64
    assert raw.scan_index.dtype == np.int64
    assert raw.Y is None and raw.metadata is None and raw.sample_indices is None


def test_diff3d_only_file_loads_with_info_log(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    arrays["diff3d"] = arrays.pop("diffraction")
    with caplog.at_level(logging.INFO, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.diff3d, arrays["diff3d"])
    assert any(r.levelno == logging.INFO and "diff3d" in r.getMessage() for r in caplog.records)


def test_both_keys_different_shapes_warn_and_use_diffraction(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    arrays["diff3d"] = np.ones((3, 8, 8), dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("diff3d" in w and "(3, 8, 8)" in w for w in warnings)


def test_both_keys_same_shape_no_warning(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    arrays["diff3d"] = arrays["diffraction"] * 2
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_member_header_read_without_loading(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["legacy_meta"] = np.array({"a": 1}, dtype=object)
    path = write_dataset(arrays)
    info = npz_member_info(path, "diffraction")
    assert info.shape == (12, 16, 16) and info.dtype == np.float32 and not info.is_object
    assert npz_member_info(path, "legacy_meta").is_object


# --------------------------------------------------------------------------- §1.7 table rows


def test_row_file_missing_raises_file_not_found(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        RawData.from_file(path)


def test_row_neither_diffraction_key_names_both_keys_and_path(base_arrays, write_dataset):
    arrays = base_arrays()
    del arrays["diffraction"]
    path = write_dataset(arrays)
    with pytest.raises(KeyError) as err:
        RawData.from_file(path)
    text = str(err.value)
    assert "'diffraction'" in text and "'diff3d'" in text and str(path) in text


@pytest.mark.parametrize("missing", [("xcoords",), ("ycoords",), ("probeGuess",), ("xcoords", "probeGuess")])
def test_row_required_key_missing_names_the_keys(base_arrays, write_dataset, missing):
    arrays = base_arrays()
    for key in missing:
        del arrays[key]
    with pytest.raises(KeyError) as err:
        RawData.from_file(write_dataset(arrays))
    for key in missing:
        assert key in str(err.value)


@pytest.mark.parametrize("case", ["x_2d", "y_short", "xstart_long", "ystart_2d"])
def test_row_coords_not_1d_or_unequal_length(base_arrays, write_dataset, case):
    arrays = base_arrays()
    if case == "x_2d":
        arrays["xcoords"] = arrays["xcoords"].reshape(3, 4)
        expected = "(3, 4)"
    elif case == "y_short":
        arrays["ycoords"] = arrays["ycoords"][:11]
        expected = "(11,)"
    elif case == "xstart_long":
        arrays["xcoords_start"] = np.zeros(13)
        expected = "(13,)"
    else:
        arrays["ycoords_start"] = np.zeros((12, 1))
        expected = "(12, 1)"
    with pytest.raises(ValueError, match="shapes") as err:
        RawData.from_file(write_dataset(arrays))
    assert expected in str(err.value) and "(12,)" in str(err.value)


def test_row_layout_not_resolvable_names_shape_and_m(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = np.ones((10, 16, 16), dtype=np.float32)  # M = 12 positions
    with pytest.raises(ValueError) as err:
        RawData.from_file(write_dataset(arrays))
    assert "(10, 16, 16)" in str(err.value) and "12" in str(err.value)


def test_row_layout_wrong_rank(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = np.ones((12, 256), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(12, 256\)"):
        RawData.from_file(write_dataset(arrays))


def test_legacy_n_n_m_layout_transposed_with_warning(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    canonical = arrays["diffraction"]
    arrays["diffraction"] = np.transpose(canonical, (1, 2, 0)).astype(np.float64)  # (N, N, M) float64
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    assert raw.diff3d.shape == (12, 16, 16) and raw.diff3d.dtype == np.float32
    for m in range(12):
        np.testing.assert_array_equal(raw.diff3d[m], arrays["diffraction"][:, :, m].astype(np.float32))
    assert any("(16, 16, 12)" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_m_n_n_1_layout_squeezed(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = arrays["diffraction"][..., None]
    raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"][..., 0])


def test_row_non_square_patterns_names_shape(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = np.ones((12, 16, 18), dtype=np.float32)
    with pytest.raises(ValueError, match="non-square") as err:
        RawData.from_file(write_dataset(arrays))
    assert "(12, 16, 18)" in str(err.value)


def test_row_unsupported_n_only_when_model_is_built(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays(n=16)))  # loading N=16 is fine
    with pytest.raises(ValueError) as err:
        require_model_ready(raw)
    text = str(err.value)
    assert "16" in text and all(str(n) in text for n in (64, 128, 256))
    assert require_model_ready(RawData.from_file(write_dataset(base_arrays(m=3, n=64)))) == 64


def test_row_probe_shape_mismatch_names_both_shapes(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["probeGuess"] = np.ones((32, 32), dtype=np.complex64)
    with pytest.raises(ValueError) as err:
        RawData.from_file(write_dataset(arrays))
    assert "(32, 32)" in str(err.value) and "16×16" in str(err.value)


def test_probe_wrong_rank_rejected(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["probeGuess"] = np.ones(16, dtype=np.complex64)
    with pytest.raises(ValueError, match=r"\(16,\)"):
        RawData.from_file(write_dataset(arrays))


def test_row_y_wrong_first_axis_warns_and_is_ignored(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    arrays["Y"] = np.ones((5, 16, 16), dtype=np.complex64)
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    assert raw.Y is None
    assert any("(5, 16, 16)" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_y_with_trailing_channel_axis_squeezed(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["Y"] = (np.arange(12 * 16 * 16).reshape(12, 16, 16, 1) * (1 + 1j)).astype(np.complex128)
    raw = RawData.from_file(write_dataset(arrays))
    assert raw.Y.shape == (12, 16, 16) and raw.Y.dtype == np.complex64
    np.testing.assert_array_equal(raw.Y, arrays["Y"][..., 0].astype(np.complex64))


def test_row_object_guess_not_2d(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["objectGuess"] = arrays["objectGuess"][None]
    with pytest.raises(ValueError, match=r"objectGuess.*\(1, 48, 48\)"):
        RawData.from_file(write_dataset(arrays))


@pytest.mark.parametrize("bad_value, count", [(np.nan, 7), (np.inf, 3), (-0.5, 5)])
def test_row_nan_inf_negative_amplitude_reports_count(base_arrays, write_dataset, bad_value, count):
    arrays = base_arrays()
    flat = arrays["diffraction"].reshape(-1)
    flat[np.arange(count) * 101] = bad_value
    with pytest.raises(ValueError) as err:
        RawData.from_file(write_dataset(arrays))
    assert f"({count} offending" in str(err.value)


def test_all_zero_pattern_set_rejected(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diffraction"] = np.zeros_like(arrays["diffraction"])
    with pytest.raises(ValueError, match="all zeros"):
        RawData.from_file(write_dataset(arrays))


@pytest.mark.parametrize("key", ["objectGuess", "diffraction", "xcoords"])
def test_row_object_dtype_data_key_refused(base_arrays, write_dataset, key):
    arrays = base_arrays()
    arrays[key] = np.array([arrays[key], "x"], dtype=object)
    with pytest.raises(ValueError) as err:
        RawData.from_file(write_dataset(arrays))
    assert f"'{key}'" in str(err.value) and "refusing to unpickle" in str(err.value)


def test_row_scan_index_length_mismatch_names_lengths(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["scan_index"] = np.zeros(9, dtype=np.int32)
    with pytest.raises(ValueError) as err:
        RawData.from_file(write_dataset(arrays))
    assert "9" in str(err.value) and "12" in str(err.value)


# --------------------------------------------------------------------------- §1.4 domain


def test_integer_counts_auto_mode_sqrt_in_float64(base_arrays, write_dataset, caplog):
    arrays = base_arrays(m=4)
    rng = np.random.default_rng(3)
    counts = rng.integers(257, 65535, size=(4, 16, 16), dtype=np.uint16)  # > 256: squaring would wrap
    counts[0, 0, 0] = 65535
    arrays["diffraction"] = counts
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays), diffraction_domain="auto")
    expected = np.sqrt(counts.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(raw.diff3d, expected)
    # amplitude² recovers the counts (no modulo-65536 wrap anywhere)
    np.testing.assert_allclose(raw.diff3d.astype(np.float64) ** 2, counts.astype(np.float64), rtol=1e-6)
    assert any("intensity" in r.getMessage() and "uint16" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)
    grouped = raw.generate_grouped_data(16, gridsize=1, nsamples=4, seed=0)
    f = float(np.sqrt(64.0 / counts.astype(np.float64).sum(axis=(1, 2)).mean()))
    np.testing.assert_allclose(grouped["X_full"][..., 0], f * expected, rtol=1e-5)


def test_integer_counts_amplitude_mode_not_square_rooted(base_arrays, write_dataset):
    arrays = base_arrays(m=4)
    arrays["diffraction"] = np.full((4, 16, 16), 400, dtype=np.uint16)
    raw = RawData.from_file(write_dataset(arrays))  # default 'amplitude'
    assert np.all(raw.diff3d == 400.0) and raw.diff3d.dtype == np.float32


def test_auto_mode_float_is_amplitude_with_warning(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays), diffraction_domain="auto")
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"])
    assert any("'amplitude'" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize("declared, dtype", [("intensity", np.float32), ("amplitude", np.uint16)])
def test_auto_mode_metadata_decides(base_arrays, write_dataset, declared, dtype):
    arrays = base_arrays(m=4)
    values = np.full((4, 16, 16), 9, dtype=dtype)
    arrays["diffraction"] = values
    arrays["_metadata"] = np.array(json.dumps({"diffraction_domain": declared}))
    raw = RawData.from_file(write_dataset(arrays), diffraction_domain="auto")
    assert np.all(raw.diff3d == (3.0 if declared == "intensity" else 9.0))


def test_intensity_domain_clips_negative_then_sqrt(base_arrays, write_dataset):
    arrays = base_arrays(m=4)
    intensity = np.full((4, 16, 16), 16.0)
    intensity[0, 0, :5] = -2.0
    arrays["diffraction"] = intensity
    raw = RawData.from_file(write_dataset(arrays), diffraction_domain="intensity")
    np.testing.assert_array_equal(raw.diff3d, np.sqrt(np.maximum(intensity, 0)).astype(np.float32))


def test_invalid_domain_rejected(base_arrays, write_dataset):
    with pytest.raises(ValueError, match="diffraction_domain"):
        RawData.from_file(write_dataset(base_arrays()), diffraction_domain="counts")


# --------------------------------------------------------------------------- §1.5 probe


def test_probe_n_n_1_squeezed(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["probeGuess"] = arrays["probeGuess"][..., None]
    raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.probeGuess, arrays["probeGuess"][..., 0])


def test_probe_single_mode_stack_squeezed(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["probeGuess"] = arrays["probeGuess"][None].astype(np.complex128)
    raw = RawData.from_file(write_dataset(arrays))
    assert raw.probeGuess.dtype == np.complex64
    np.testing.assert_array_equal(raw.probeGuess, arrays["probeGuess"][0].astype(np.complex64))


def test_probe_stack_dominant_mode_with_discarded_fraction(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    base = np.ones((16, 16), dtype=np.complex64)
    stack = np.stack([1.0 * base, 3.0 * base, 2.0 * base])  # powers 1 : 9 : 4
    arrays["probeGuess"] = stack
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays))
    np.testing.assert_array_equal(raw.probeGuess, stack[1])
    discarded = 1 - 9 / 14
    assert any(f"{discarded:.4f}" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_zero_probe_rejected(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["probeGuess"] = np.zeros((16, 16), dtype=np.complex64)
    with pytest.raises(ValueError, match="mean"):
        RawData.from_file(write_dataset(arrays))


# --------------------------------------------------------------------------- §1.6 metadata


def test_metadata_parsed_and_nphotons_accessor(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["_metadata"] = np.array(json.dumps({"source": "sim", "physics_parameters": {"nphotons": 1e6}}))
    raw = RawData.from_file(write_dataset(arrays))
    assert raw.metadata["source"] == "sim"
    assert metadata_nphotons(raw.metadata) == 1e6
    assert metadata_nphotons({"nphotons": "2e3"}) == 2000.0
    assert metadata_nphotons(None) is None


def test_object_dtype_metadata_skipped_with_warning(base_arrays, write_dataset, caplog):
    arrays = base_arrays()
    arrays["_metadata"] = np.array({"diffraction_domain": "intensity"}, dtype=object)
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        raw = RawData.from_file(write_dataset(arrays), diffraction_domain="auto")
    assert raw.metadata is None
    np.testing.assert_array_equal(raw.diff3d, arrays["diffraction"])  # float → amplitude, metadata unread
    assert any("_metadata" in r.getMessage() and "object" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)


def test_unknown_keys_ignored_and_kept(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["bad_pixels"] = np.zeros((16, 16), dtype=bool)
    arrays["my_extra"] = np.arange(5)
    raw = RawData.from_file(write_dataset(arrays))
    assert set(raw.extra_arrays) == {"bad_pixels", "my_extra"}


def test_not_an_npz_archive(tmp_path):
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not an NPZ"):
        RawData.from_file(npy)


@pytest.mark.parametrize("content, expected", [
    (b"", r"is empty \(0 bytes\); expected an NPZ dataset file"),
    (b"plain text, not a zip", r"is not an NPZ archive \(it starts with b'plai': text\)"),
    (bytes(range(256)), r"is not an NPZ archive .*not a zip archive"),
    (b"PK\x03\x04 truncated zip", "not a readable NPZ archive"),
])
def test_garbage_file_is_a_value_error_naming_the_file(tmp_path, content, expected):
    """Issue #15 item 7: a text file renamed .npz used to be reported as "pickled data"."""
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=expected) as err:
        RawData.from_file(path)
    assert str(path) in str(err.value)
    assert "pickled" not in str(err.value)  # NumPy's misleading "pickled data" for non-zip files


def test_directory_given_as_dataset_is_named_as_such(tmp_path):
    with pytest.raises(IsADirectoryError, match=re.escape(f"{tmp_path} is a directory; expected an NPZ dataset file")):
        RawData.from_file(tmp_path)


def test_load_dataset_arrays_reports_key_used(base_arrays, write_dataset):
    arrays = base_arrays()
    arrays["diff3d"] = arrays.pop("diffraction")
    loaded = load_dataset_arrays(write_dataset(arrays))
    assert loaded.diffraction_key == "diff3d" and loaded.diffraction.dtype == np.float32


# --------------------------------------------------------------------------- from_coords_without_pc


def test_from_coords_without_pc_counts_and_probe_stack():
    rng = np.random.default_rng(1)
    counts = rng.integers(300, 60000, size=(5, 16, 16)).astype(np.uint16)
    probe = np.stack([np.ones((16, 16)), 2 * np.ones((16, 16))]).astype(np.complex64)
    x = np.arange(5.0)
    raw = RawData.from_coords_without_pc(x, 2 * x, counts, probe, np.zeros(5, np.int32),
                                         diffraction_domain="auto")
    np.testing.assert_array_equal(raw.diff3d, np.sqrt(counts.astype(np.float64)).astype(np.float32))
    np.testing.assert_array_equal(raw.xcoords_start, x)
    np.testing.assert_array_equal(raw.ycoords_start, 2 * x)
    np.testing.assert_array_equal(raw.probeGuess, probe[1])


def test_position_only_raw_data():
    raw = RawData.from_coords_without_pc(np.arange(4.0), np.arange(4.0), None,
                                         np.ones((16, 16), np.complex64), None)
    assert raw.diff3d is None and raw.N is None and len(raw) == 4
    assert raw.scan_index.dtype == np.int64 and np.all(raw.scan_index == 0)
