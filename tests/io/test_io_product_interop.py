"""Our product files against Ptychodus 1.7's own HDF5 product reader/writer (black box),
and the promise that the product modules work without Ptychodus installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.io.product_h5 import read_product, write_product

HEAVY = ("ptychodus", "tensorflow", "keras", "torch", "lightning", "tensordict", "PyQt5")


def test_product_modules_work_with_ptychodus_unimportable(tmp_path):
    """Block ``ptychodus`` (and the frameworks) at import time, then write, read and convert."""
    code = f"""
import json, sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # any import of these now raises ImportError
import numpy as np
from ptychopinn_plugin.io import Product, read_product, write_product, product_to_raw_data
from ptychopinn_plugin.cli.convert import main
p = Product(name="n", detector_object_distance_m=1.0, photon_energy_eV=1e4, probe_position_indexes=np.arange(3),
            probe_position_x_m=np.zeros(3), probe_position_y_m=np.zeros(3), probe=np.ones((8, 8)),
            object=np.ones((10, 10)), object_center_x_m=0.0, object_center_y_m=0.0,
            object_pixel_width_m=1e-8, object_pixel_height_m=1e-8)
write_product({str(tmp_path / 'a.h5')!r}, p)
raw = product_to_raw_data(read_product({str(tmp_path / 'a.h5')!r}), np.ones((3, 8, 8)), diffraction_domain="amplitude")
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} and sys.modules[m] is not None)
print(json.dumps([raw.diff3d.shape[0], loaded]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    n, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert n == 3 and loaded == []


@pytest.mark.ptychodus
def test_ptychodus_reads_our_file_and_we_read_its_rewrite(tmp_path, make_product):
    h5_io = pytest.importorskip("ptychodus.plugins.h5_product_file")
    product = make_product()
    write_product(tmp_path / "ours.h5", product)

    theirs = h5_io.H5ProductFileIO().read(tmp_path / "ours.h5")
    meta = theirs.metadata
    assert meta.name == product.name and meta.comments == product.comments
    assert meta.detector_distance_m == product.detector_object_distance_m
    assert meta.photon_energy_eV == product.photon_energy_eV
    assert meta.exposure_time_s == product.exposure_time_s
    assert meta.probe_photon_count == product.probe_photon_count
    assert meta.mass_attenuation_m2_per_kg == product.mass_attenuation_m2_per_kg
    assert meta.tomography_angle_deg == product.tomography_angle_deg
    assert meta.focus_object_distance_m == product.focus_object_distance_m
    assert meta.tilt_angle_deg == product.tilt_angle_deg
    assert meta.far_field is product.far_field
    assert str(getattr(meta.polarization, "value", meta.polarization)) == product.polarization

    obj = theirs.object_
    np.testing.assert_array_equal(obj.get_array(), product.object)
    center = obj.get_center()
    assert (center.x_m, center.y_m) == product.object_center_m
    pixel = obj.get_pixel_geometry()
    assert (pixel.width_m, pixel.height_m) == product.object_pixel_size_m
    np.testing.assert_array_equal(obj.layer_spacing_m, product.object_layer_spacing_m)

    probes = theirs.probes
    np.testing.assert_array_equal(probes.get_array(), product.probe)
    np.testing.assert_array_equal(probes.get_opr_weights(), product.opr_weights)
    probe_pixel = probes.get_pixel_geometry()
    assert (probe_pixel.width_m, probe_pixel.height_m) == (product.probe_pixel_width_m, product.probe_pixel_height_m)

    positions = theirs.probe_positions
    np.testing.assert_array_equal(positions.get_indexes(), product.probe_position_indexes)
    np.testing.assert_array_equal(positions.get_coordinates_x_m(), product.probe_position_x_m)
    np.testing.assert_array_equal(positions.get_coordinates_y_m(), product.probe_position_y_m)
    np.testing.assert_array_equal(positions.get_probe_photon_counts(), product.probe_photon_counts)
    assert [(int(v.epoch), float(v.value)) for v in theirs.losses] == list(
        zip(product.loss_epochs.tolist(), product.loss_values.tolist()))

    h5_io.H5ProductFileIO().write(tmp_path / "theirs.h5", theirs)
    back = read_product(tmp_path / "theirs.h5")
    for name in ("name", "comments", "detector_object_distance_m", "photon_energy_eV", "exposure_time_s",
                 "probe_photon_count", "mass_attenuation_m2_per_kg", "tomography_angle_deg",
                 "focus_object_distance_m", "tilt_angle_deg", "far_field", "polarization", "object_center_x_m",
                 "object_center_y_m", "object_pixel_width_m", "object_pixel_height_m", "probe_pixel_width_m",
                 "probe_pixel_height_m"):
        assert getattr(back, name) == getattr(product, name), name
    for name in ("probe_position_indexes", "probe_position_x_m", "probe_position_y_m", "probe_photon_counts",
                 "probe", "opr_weights", "object", "object_layer_spacing_m", "loss_values", "loss_epochs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(product, name), err_msg=name)
