"""Product HDF5 reading and writing (data spec §6.1): round trips, old spellings, errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptychopinn_plugin.io.product_h5 import (
    ProductFieldMissingError,
    ProductFormatError,
    read_product,
    write_product,
)
from ptychopinn_plugin.io.product_model import Product, ProductRawData

ARRAY_FIELDS = ("probe_position_indexes", "probe_position_x_m", "probe_position_y_m", "probe_photon_counts",
                "probe", "opr_weights", "object", "object_layer_spacing_m", "loss_values", "loss_epochs")
SCALAR_FIELDS = ("name", "comments", "detector_object_distance_m", "photon_energy_eV", "exposure_time_s",
                 "probe_photon_count", "mass_attenuation_m2_per_kg", "tomography_angle_deg",
                 "focus_object_distance_m", "tilt_angle_deg", "far_field", "polarization",
                 "probe_pixel_width_m", "probe_pixel_height_m", "object_center_x_m", "object_center_y_m",
                 "object_pixel_width_m", "object_pixel_height_m")
CANONICAL_DTYPES = {"probe_position_indexes": np.int64, "probe_position_x_m": np.float64,
                    "probe_position_y_m": np.float64, "probe_photon_counts": np.float64, "probe": np.complex64,
                    "opr_weights": np.float64, "object": np.complex64, "object_layer_spacing_m": np.float64,
                    "loss_values": np.float64, "loss_epochs": np.int64}


def assert_same_product(a: Product, b: Product) -> None:
    for name in SCALAR_FIELDS:
        assert getattr(a, name) == getattr(b, name), name
        assert type(getattr(a, name)) is type(getattr(b, name)), name
    for name in ARRAY_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if va is None or vb is None:
            assert va is None and vb is None, name
            continue
        assert vb.dtype == CANONICAL_DTYPES[name], (name, vb.dtype)
        np.testing.assert_array_equal(va, vb, err_msg=name)


def _minimal_file(path: Path, **skip: bool) -> Path:
    """A product written with raw h5py (independent of our writer), older spellings where asked."""
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        if not skip.get("name"):
            f.attrs["name"] = "old"
        if not skip.get("comments"):
            f.attrs["comments"] = np.bytes_(b"fixed-length ascii")
        if not skip.get("detector_object_distance_m"):
            f.attrs["detector_object_distance_m"] = 1.5
        if not skip.get("photon_energy_eV"):
            f.attrs["probe_energy_eV"] = 7000.0  # pre-1.7 spelling
        f.attrs["mass_attenuation_m2_kg"] = 4.0  # pre-1.7 spelling
        f.attrs["unknown_attr"] = "ignored"
        if not skip.get("probe_position_indexes"):
            f["probe_position_indexes"] = np.arange(4, dtype=np.int32)
        if not skip.get("probe_position_x_m"):
            f["probe_position_x_m"] = np.array([0.0, 1e-8, 2e-8, 3e-8])
        if not skip.get("probe_position_y_m"):
            f["probe_position_y_m"] = np.array([0.0, -1e-8, 1e-8, 0.0])
        if not skip.get("probe"):
            probe = f.create_dataset("probe", data=(rng.normal(size=(2, 8, 8)) + 1j).astype(np.complex128))
            probe.attrs["opr_weights"] = np.ones((4, 1))  # older location
        if not skip.get("object"):
            obj = f.create_dataset("object", data=(rng.normal(size=(12, 10)) + 0.5j).astype(np.complex128))
            for key, value in (("center_x_m", 1e-7), ("center_y_m", 2e-7), ("pixel_width_m", 1e-8),
                               ("pixel_height_m", 2e-8)):
                if not skip.get(f"object@{key}"):
                    obj.attrs[key] = value
        f["costs"] = np.array([5.0, 4.0])  # alias of loss_values
        f["some_unknown_dataset"] = np.arange(3)
        f.create_group("unknown_group")["x"] = np.zeros(2)
    return path


# --------------------------------------------------------------------------- round trips
def test_round_trip_every_field_and_dtype(tmp_path, make_product):
    product = make_product()
    out = write_product(tmp_path / "p.h5", product)
    assert out == tmp_path / "p.h5"
    back = read_product(out)
    assert_same_product(product, back)
    assert back.probe.shape == (2, 3, 16, 16) and back.object.shape == (2, 40, 52)
    assert back.raw_data is None
    assert list(tmp_path.iterdir()) == [out]  # the temporary file was renamed, nothing left over


def test_writer_uses_17_spellings_and_dtypes(tmp_path, make_product):
    product = make_product(full=False)
    write_product(tmp_path / "p.h5", product)
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert {"photon_energy_eV", "mass_attenuation_m2_per_kg", "exposure_time_s", "probe_photon_count",
                "tomography_angle_deg"} <= set(f.attrs)
        assert "probe_energy_eV" not in f.attrs and "mass_attenuation_m2_kg" not in f.attrs
        for key in ("focus_object_distance_m", "tilt_angle_deg", "far_field", "polarization"):
            assert key not in f.attrs  # absent extras are not invented
        assert "opr_weights" not in f and "probe_photon_counts" not in f
        assert f["probe"].dtype == np.complex64 and f["object"].dtype == np.complex64
        assert f["object"].shape == (1, 40, 52)
        assert f["probe_position_x_m"].dtype == np.float64 and f["probe_position_indexes"].dtype == np.int64
        assert f["object_layer_spacing_m"].shape == (0,)
        # Ptychodus reads losses only when both datasets exist: both are written, empty here.
        assert f["loss_values"].shape == (0,) and f["loss_epochs"].shape == (0,)
        # probe pixel size defaults to the object's and is written explicitly
        assert f["probe"].attrs["pixel_width_m"] == 1.0e-8 and f["probe"].attrs["pixel_height_m"] == 1.25e-8
        for key, value in (("center_x_m", 3.0e-7), ("center_y_m", -1.5e-7), ("pixel_width_m", 1e-8)):
            assert f["object"].attrs[key] == value


def test_opr_weights_written_at_root(tmp_path, make_product):
    product = make_product()
    write_product(tmp_path / "p.h5", product)
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f["opr_weights"].shape == (7, 2) and "opr_weights" not in f["probe"].attrs
        assert bool(f.attrs["far_field"]) is False and f.attrs["polarization"] == "left_circular"


def test_raw_data_group_round_trip(tmp_path, make_product):
    rng = np.random.default_rng(1)
    raw = ProductRawData(diffraction=rng.uniform(0, 3, (7, 16, 16)), xcoords=rng.uniform(0, 40, 7),
                         ycoords=rng.uniform(0, 30, 7), scan_index=np.zeros(7, dtype=np.int32),
                         metadata={"diffraction_domain": "amplitude", "nested": {"k": [1, 2]}})
    product = make_product(raw_data=raw)
    write_product(tmp_path / "p.h5", product)
    with h5py.File(tmp_path / "p.h5", "r") as f:
        group = f["raw_data"]
        assert group["diffraction"].dtype == np.float32
        assert group["diffraction"].attrs["axis_canonical"] == "NHW"
        assert json.loads(group["_metadata"].asstr()[()]) == raw.metadata
        # probeGuess/objectGuess are hard links (same HDF5 object, no copy)
        assert group["probeGuess"].id == f["probe"].id and group["objectGuess"].id == f["object"].id
    back = read_product(tmp_path / "p.h5").raw_data
    assert back is not None
    np.testing.assert_array_equal(back.diffraction, raw.diffraction.astype(np.float32))
    np.testing.assert_array_equal(back.xcoords, raw.xcoords)
    np.testing.assert_array_equal(back.ycoords, raw.ycoords)
    assert back.scan_index.dtype == np.int64 and not back.scan_index.any()
    assert back.metadata == raw.metadata


def test_overwrite_is_atomic_on_failure(tmp_path, make_product):
    target = tmp_path / "p.h5"
    write_product(target, make_product(name="first"))
    before = target.read_bytes()
    bad_meta = ProductRawData(diffraction=np.ones((7, 16, 16)), xcoords=np.zeros(7), ycoords=np.zeros(7),
                              metadata={"not_json": object()})
    with pytest.raises(ValueError, match="_metadata"):
        write_product(target, make_product(name="second", raw_data=bad_meta))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.h5"]
    assert read_product(target).name == "first"


# --------------------------------------------------------------------------- reading other writers' files
def test_reads_old_spellings_costs_opr_attribute_and_2d_object(tmp_path, caplog):
    path = _minimal_file(tmp_path / "old.h5")
    product = read_product(path)
    assert product.name == "old" and product.comments == "fixed-length ascii"
    assert product.photon_energy_eV == 7000.0 and product.mass_attenuation_m2_per_kg == 4.0
    assert product.exposure_time_s == 0.0 and product.probe_photon_count == 0.0
    assert product.tomography_angle_deg == 0.0 and product.far_field is None
    np.testing.assert_array_equal(product.loss_values, [5.0, 4.0])
    np.testing.assert_array_equal(product.loss_epochs, [0, 1])
    assert product.opr_weights.shape == (4, 1)
    assert product.object.shape == (1, 12, 10) and product.object.dtype == np.complex64
    assert product.probe.dtype == np.complex64 and product.probe.shape == (2, 8, 8)
    # complex128 → complex64 is a plain down-cast
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(product.object[0], f["object"][()].astype(np.complex64))
    # probe pixel size defaults to the object's
    assert (product.probe_pixel_width_m, product.probe_pixel_height_m) == (1e-8, 2e-8)
    assert product.object_layer_spacing_m.shape == (0,) and product.probe_photon_counts is None


def test_new_spelling_wins_over_old(tmp_path, caplog):
    path = _minimal_file(tmp_path / "both.h5")
    with h5py.File(path, "a") as f:
        f.attrs["photon_energy_eV"] = 9000.0
    assert read_product(path).photon_energy_eV == 9000.0
    assert "disagree" in caplog.text


def test_unknown_fields_are_ignored_even_if_unreadable(tmp_path):
    path = _minimal_file(tmp_path / "extra.h5")
    with h5py.File(path, "a") as f:
        # an object reference attribute and a compound dataset: neither may be touched
        f.attrs["a_reference"] = f["probe"].ref
        f["compound"] = np.zeros(3, dtype=[("a", "i4"), ("b", "f8")])
        f["vlen"] = np.array(["x", "yy"], dtype=h5py.string_dtype())
    assert read_product(path).name == "old"


@pytest.mark.parametrize(
    "skip, field",
    [
        ("name", "/@name"),
        ("comments", "/@comments"),
        ("detector_object_distance_m", "/@detector_object_distance_m"),
        ("photon_energy_eV", "/@photon_energy_eV"),
        ("probe_position_indexes", "/probe_position_indexes"),
        ("probe_position_x_m", "/probe_position_x_m"),
        ("probe_position_y_m", "/probe_position_y_m"),
        ("probe", "/probe"),
        ("object", "/object"),
        ("object@center_x_m", "/object@center_x_m"),
        ("object@pixel_height_m", "/object@pixel_height_m"),
    ],
)
def test_missing_required_field_names_field_and_file(tmp_path, skip, field):
    path = _minimal_file(tmp_path / "missing.h5", **{skip: True})
    with pytest.raises(ProductFieldMissingError) as info:
        read_product(path)
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert field in message and str(path) in message
    if skip == "photon_energy_eV":
        assert "probe_energy_eV" in message  # the accepted older spelling is mentioned


def test_wrong_kinds_are_format_errors(tmp_path):
    path = _minimal_file(tmp_path / "bad.h5")
    with h5py.File(path, "a") as f:
        del f.attrs["name"]
        f.attrs["name"] = 3.0
    with pytest.raises(ProductFormatError, match=r"/@name.*string"):
        read_product(path)

    path = _minimal_file(tmp_path / "bad2.h5")
    with h5py.File(path, "a") as f:
        f["object"].attrs["pixel_width_m"] = -1.0
    with pytest.raises(ProductFormatError, match=r"pixel_width_m.*> 0") as info:
        read_product(path)
    assert str(path) in str(info.value)

    path = _minimal_file(tmp_path / "bad3.h5")
    with h5py.File(path, "a") as f:
        del f["probe_position_y_m"]
        f["probe_position_y_m"] = np.zeros(5)
    with pytest.raises(ProductFormatError, match="different lengths"):
        read_product(path)

    path = _minimal_file(tmp_path / "bad4.h5")
    with h5py.File(path, "a") as f:
        del f["object"]
        f.create_group("object")
    with pytest.raises(ProductFormatError, match="must be a dataset"):
        read_product(path)

    path = _minimal_file(tmp_path / "bad5.h5")
    with h5py.File(path, "a") as f:
        f.attrs["detector_object_distance_m"] = "far"
    with pytest.raises(ProductFormatError, match="detector_object_distance_m.*real number"):
        read_product(path)


def test_not_a_file_and_not_hdf5(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_product(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not HDF5")
    with pytest.raises(ProductFormatError, match="junk.h5"):
        read_product(junk)


def test_malformed_extras_are_dropped_not_fatal(tmp_path, caplog):
    path = _minimal_file(tmp_path / "extras.h5")
    with h5py.File(path, "a") as f:
        f.attrs["far_field"] = "sometimes"
        f.attrs["tilt_angle_deg"] = 2.5
        f.attrs["polarization"] = 1.0
    product = read_product(path)
    assert product.far_field is None and product.tilt_angle_deg == 2.5 and product.polarization == 1.0
    assert "far_field" in caplog.text


# --------------------------------------------------------------------------- the dataclass
def test_product_validation(make_product, product_fields):
    with pytest.raises(ValueError, match="object_pixel_width_m.*> 0"):
        make_product(object_pixel_width_m=0.0)
    with pytest.raises(ValueError, match="common length"):
        make_product(probe_position_y_m=np.zeros(3))
    with pytest.raises(ValueError, match="object_layer_spacing_m"):
        make_product(object_layer_spacing_m=np.zeros(3))
    with pytest.raises(ValueError, match="probe.*rank"):
        make_product(probe=np.ones(16, dtype=np.complex64))
    with pytest.raises(ValueError, match="loss_epochs"):
        make_product(loss_epochs=np.arange(2))
    with pytest.raises(ValueError, match="photon_energy_eV.*finite"):
        make_product(photon_energy_eV=float("nan"))
    with pytest.raises(ValueError, match="probe_position_indexes.*integers"):
        make_product(probe_position_indexes=np.linspace(0, 1, 7))
    with pytest.raises(ValueError, match="probe_position_x_m.*non-finite"):
        make_product(probe_position_x_m=np.full(7, np.inf))
    obj = np.ones((4, 4), np.complex64)
    obj[0, 0] = np.nan  # kept (Ptychodus writes such objects), only logged
    assert np.isnan(make_product(full=False, object=obj).object[0, 0, 0])
    product = make_product(full=False)
    assert product.loss_epochs.dtype == np.int64 and product.loss_epochs.shape == (0,)
    moved = dataclasses.replace(product, object_center_x_m=1.0)  # replace re-validates
    assert moved.object_center_x_m == 1.0 and moved.object is product.object
    with pytest.raises(dataclasses.FrozenInstanceError):
        product.name = "x"  # type: ignore[misc]
