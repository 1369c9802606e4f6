"""Product ↔ canonical dataset conversion (data spec §1, §5.2, §6)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.io.product_convert import (
    load_diffraction,
    npz_to_product,
    product_and_diffraction_to_npz,
    product_probe,
    product_to_raw_data,
    provenance_note,
    raw_data_to_product,
)
from ptychopinn_plugin.io.product_h5 import write_product
from ptychopinn_plugin.io.product_model import ProductRawData

M, N = 7, 16


def _counts(seed: int = 4, n_patterns: int = M) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 500, size=(n_patterns, N, N)).astype(np.uint16)


def test_product_and_counts_to_npz_round_trip(tmp_path, make_product):
    product = make_product()
    write_product(tmp_path / "in.h5", product)
    counts = _counts()
    np.savez(tmp_path / "patterns.npz", diffraction=counts)

    written = product_and_diffraction_to_npz(tmp_path / "in.h5", tmp_path / "patterns.npz", tmp_path / "out.npz",
                                             diffraction_domain="intensity")
    raw = RawData.from_file(tmp_path / "out.npz")

    # amplitude = sqrt(counts), computed independently in float64
    np.testing.assert_allclose(raw.diff3d, np.sqrt(counts.astype(np.float64)), rtol=1e-6)
    assert raw.diff3d.dtype == np.float32
    # positions: Ptychodus 1.7 mapping with the product's object (H, W) = (40, 52)
    x_expected = (product.probe_position_x_m - 3.0e-7) / 1.0e-8 + (52 - 1) / 2
    y_expected = (product.probe_position_y_m + 1.5e-7) / 1.25e-8 + (40 - 1) / 2
    np.testing.assert_allclose(raw.xcoords, x_expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(raw.ycoords, y_expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(raw.xcoords_start, raw.xcoords)
    # probe: OPR component 0, then the incoherent mode of largest power (data §1.5)
    modes = product.probe[0]
    best = int(np.argmax([np.sum(np.abs(mode.astype(np.complex128)) ** 2) for mode in modes]))
    np.testing.assert_array_equal(raw.probeGuess, modes[best])
    np.testing.assert_array_equal(raw.objectGuess, product.object[0])
    assert raw.scan_index.dtype == np.int64 and not raw.scan_index.any()
    np.testing.assert_array_equal(raw.extra_arrays["probe_position_indexes"], product.probe_position_indexes)
    meta = raw.metadata
    assert meta["diffraction_domain"] == "amplitude" and meta["source"] == "ptychodus-product"
    assert meta["pixel_width_m"] == 1.0e-8 and meta["pixel_height_m"] == 1.25e-8
    assert meta["probe_photon_count"] == product.probe_photon_count
    assert meta["nphotons_estimate"] == pytest.approx(np.mean(counts.astype(np.float64).sum(axis=(1, 2))))
    assert meta["product"]["object_shape"] == [40, 52]
    assert written.diff3d.shape == (M, N, N)


def test_npz_back_to_product_restores_geometry_and_metadata(tmp_path, make_product):
    product = make_product()
    raw = product_to_raw_data(product, _counts(), diffraction_domain="intensity")
    raw.to_file(tmp_path / "d.npz")
    back = npz_to_product(tmp_path / "d.npz")
    np.testing.assert_allclose(back.probe_position_x_m, product.probe_position_x_m, rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(back.probe_position_y_m, product.probe_position_y_m, rtol=1e-12, atol=1e-20)
    np.testing.assert_array_equal(back.probe_position_indexes, product.probe_position_indexes)
    np.testing.assert_array_equal(back.probe_photon_counts, product.probe_photon_counts)
    np.testing.assert_array_equal(back.object[0], product.object[0])
    assert back.object_center_m == pytest.approx(product.object_center_m, rel=1e-12)
    assert back.object_pixel_size_m == product.object_pixel_size_m
    for name in ("name", "comments", "detector_object_distance_m", "photon_energy_eV", "exposure_time_s",
                 "probe_photon_count", "mass_attenuation_m2_per_kg", "tomography_angle_deg",
                 "focus_object_distance_m", "tilt_angle_deg", "far_field", "polarization"):
        assert getattr(back, name) == getattr(product, name), name
    assert back.probe.shape == (N, N)


def test_pairing_by_probe_position_indexes(tmp_path, make_product):
    product = make_product(probe_position_indexes=np.array([9, 2, 4, 0, 7, 1, 3]))
    counts = _counts(n_patterns=12)
    raw = product_to_raw_data(product, counts, diffraction_domain="intensity")
    np.testing.assert_allclose(raw.diff3d ** 2, counts[[9, 2, 4, 0, 7, 1, 3]].astype(np.float64), rtol=1e-5)

    # indexes that cannot address the patterns: pair by order when the counts agree …
    shifted = make_product(probe_position_indexes=np.arange(100, 107))
    raw = product_to_raw_data(shifted, counts[:M], diffraction_domain="intensity")
    np.testing.assert_allclose(raw.diff3d ** 2, counts[:M].astype(np.float64), rtol=1e-5)
    # … and refuse when they do not
    with pytest.raises(ValueError, match="12 patterns.*7 scan positions"):
        product_to_raw_data(shifted, counts, diffraction_domain="intensity")
    with pytest.raises(ValueError, match="pairing='index'"):
        product_to_raw_data(shifted, counts[:M], diffraction_domain="intensity", pairing="index")
    # explicit order pairing ignores addressable indexes
    raw = product_to_raw_data(product, counts[:M], diffraction_domain="intensity", pairing="order")
    np.testing.assert_allclose(raw.diff3d ** 2, counts[:M].astype(np.float64), rtol=1e-5)


def test_domains_bad_pixels_and_probe_checks(make_product, caplog):
    product = make_product(full=False)
    amplitude = np.random.default_rng(0).uniform(0, 2, (M, N, N)).astype(np.float32)
    raw = product_to_raw_data(product, amplitude, diffraction_domain="auto")  # float → amplitude
    np.testing.assert_array_equal(raw.diff3d, amplitude)
    raw = product_to_raw_data(product, _counts(), diffraction_domain="auto")  # integer → counts
    np.testing.assert_allclose(raw.diff3d, np.sqrt(_counts().astype(np.float64)), rtol=1e-6)
    mask = np.zeros((N, N), dtype=bool)
    mask[3, 4] = True
    raw = product_to_raw_data(product, amplitude, diffraction_domain="amplitude", bad_pixels=mask)
    np.testing.assert_array_equal(raw.extra_arrays["bad_pixels"], mask)
    with pytest.raises(ValueError, match="bad_pixels has shape"):
        product_to_raw_data(product, amplitude, diffraction_domain="amplitude", bad_pixels=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="diffraction_domain"):
        product_to_raw_data(product, amplitude, diffraction_domain="counts")
    with pytest.raises(ValueError, match="probeGuess"):  # probe side ≠ pattern side (data §1.5)
        product_to_raw_data(product, amplitude[:, :8, :8], diffraction_domain="amplitude")
    caplog.clear()
    product_to_raw_data(make_product(), amplitude, diffraction_domain="amplitude")
    assert "OPR components" in caplog.text and "probe pixel width" in caplog.text


def test_product_probe_keeps_opr_component_zero(make_product):
    product = make_product()
    np.testing.assert_array_equal(product_probe(product), product.probe[0])
    assert product_probe(make_product(full=False)).shape == (N, N)


def test_diffraction_from_hdf5_and_raw_data_group(tmp_path, make_product):
    product = make_product()
    write_product(tmp_path / "in.h5", product)
    counts = _counts()
    with h5py.File(tmp_path / "detector.h5", "w") as f:
        f.create_group("entry/data")["data"] = counts
        f["elsewhere/frames"] = counts[::-1]
    found = load_diffraction(tmp_path / "detector.h5")
    np.testing.assert_array_equal(found.patterns, counts)
    assert found.source.endswith(":/entry/data/data")
    chosen = load_diffraction(tmp_path / "detector.h5", dataset="elsewhere/frames")
    np.testing.assert_array_equal(chosen.patterns, counts[::-1])
    with pytest.raises(KeyError, match="elsewhere/frames"):  # the error lists what exists
        load_diffraction(tmp_path / "detector.h5", dataset="nothing/here")
    np.save(tmp_path / "p.npy", counts)
    np.testing.assert_array_equal(load_diffraction(tmp_path / "p.npy").patterns, counts)
    np.savez(tmp_path / "legacy.npz", diff3d=counts)
    np.testing.assert_array_equal(load_diffraction(tmp_path / "legacy.npz").patterns, counts)

    raw = product_and_diffraction_to_npz(tmp_path / "in.h5", tmp_path / "detector.h5", tmp_path / "a.npz",
                                         diffraction_domain="intensity")
    # A product carrying its patterns in /raw_data converts without a diffraction file.
    embedded = raw_data_to_product(raw, include_raw_data=True)
    assert isinstance(embedded.raw_data, ProductRawData)
    write_product(tmp_path / "embedded.h5", embedded)
    again = product_and_diffraction_to_npz(tmp_path / "embedded.h5", None, tmp_path / "b.npz",
                                           diffraction_domain="auto")
    np.testing.assert_array_equal(again.diff3d, raw.diff3d)  # metadata says amplitude: no second sqrt
    np.testing.assert_allclose(again.xcoords, raw.xcoords, atol=1e-9)
    with pytest.raises(ValueError, match="no /raw_data"):
        product_and_diffraction_to_npz(tmp_path / "in.h5", None, tmp_path / "c.npz", diffraction_domain="auto")


def test_export_without_metadata_uses_documented_defaults(caplog):
    rng = np.random.default_rng(0)
    raw = RawData.from_coords_without_pc(rng.uniform(10, 20, 5), rng.uniform(10, 20, 5),
                                         rng.uniform(0.1, 1, (5, 16, 16)), np.ones((16, 16)), None,
                                         np.ones((30, 30), np.complex64))
    product = raw_data_to_product(raw)
    assert product.object_pixel_size_m == (1.0, 1.0) and product.object_center_m == (0.0, 0.0)
    assert "no pixel size" in caplog.text
    assert product.name == "ptychopinn" and product.photon_energy_eV == 0.0
    np.testing.assert_array_equal(product.probe_position_indexes, np.arange(5))
    np.testing.assert_allclose(product.probe_position_x_m, raw.xcoords - 14.5)  # metres = pixels, centre 0
    no_object = RawData.from_coords_without_pc(raw.xcoords, raw.ycoords, raw.diff3d, raw.probeGuess, None)
    with pytest.raises(ValueError, match="no objectGuess"):
        raw_data_to_product(no_object)
    centred = raw_data_to_product(no_object, (np.ones((8, 8)), (15.0, 15.0)), pixel_size_m=1e-8)
    # without an object the frame centre is the scan centroid
    np.testing.assert_allclose(np.mean(centred.probe_position_x_m), 0.0, atol=1e-20)


def test_provenance_note_is_one_line():
    note = provenance_note(backend="tensorflow", archive_sha256="f" * 64, version="9.9")
    assert note == f"ptychopinn 9.9 reconstruction, backend=tensorflow, model archive sha256={'f' * 64}"
    assert "\n" not in provenance_note(backend="pytorch")
