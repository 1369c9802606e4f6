"""``ptychopinn-convert`` subcommands and exit codes (api spec §9: 0 ok, 2 usage, 1 runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.cli.convert import main
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.io.product_h5 import read_product, write_product


@pytest.fixture
def product_file(tmp_path, make_product):
    product = make_product()
    write_product(tmp_path / "in.h5", product)
    counts = np.random.default_rng(0).integers(0, 100, (7, 16, 16)).astype(np.int32)
    np.savez(tmp_path / "patterns.npz", diffraction=counts)
    return product, counts


def test_product_to_npz_and_back(tmp_path, product_file, capsys):
    product, counts = product_file
    code = main(["product-to-npz", "--product", str(tmp_path / "in.h5"), "--diffraction",
                 str(tmp_path / "patterns.npz"), "--output", str(tmp_path / "out.npz")])
    assert code == 0 and "out.npz" in capsys.readouterr().out
    raw = RawData.from_file(tmp_path / "out.npz")
    np.testing.assert_allclose(raw.diff3d, np.sqrt(counts.astype(np.float64)), rtol=1e-6)  # auto: ints = counts

    code = main(["npz-to-product", "--npz", str(tmp_path / "out.npz"), "--output", str(tmp_path / "back.h5"),
                 "--include-raw-data", "--quiet"])
    assert code == 0 and capsys.readouterr().out == ""
    back = read_product(tmp_path / "back.h5")
    np.testing.assert_allclose(back.probe_position_x_m, product.probe_position_x_m, rtol=1e-12)
    assert back.raw_data is not None and back.name == product.name

    # the product's own /raw_data replaces --diffraction
    assert main(["product-to-npz", "--product", str(tmp_path / "back.h5"), "--output", str(tmp_path / "again.npz"),
                 "--quiet"]) == 0
    np.testing.assert_array_equal(RawData.from_file(tmp_path / "again.npz").diff3d, raw.diff3d)


def test_npz_to_product_options_and_reconstruction(tmp_path, product_file):
    rng = np.random.default_rng(1)
    raw = RawData.from_coords_without_pc(rng.uniform(10, 20, 5), rng.uniform(10, 20, 5),
                                         rng.uniform(0.1, 1, (5, 16, 16)), np.ones((16, 16)), None,
                                         np.ones((30, 30), np.complex64))
    raw.to_file(tmp_path / "plain.npz")
    assert main(["npz-to-product", "--npz", str(tmp_path / "plain.npz"), "--output", str(tmp_path / "p.h5"),
                 "--pixel-size-m", "2e-8", "3e-8", "--center-x-m", "1e-6", "--center-y-m=-1e-6", "--name", "mine",
                 "--note", "exported", "--quiet"]) == 0
    product = read_product(tmp_path / "p.h5")
    assert product.object_pixel_size_m == (2e-8, 3e-8) and product.object_center_m == (1e-6, -1e-6)
    assert product.name == "mine" and product.comments == "exported"

    np.savez(tmp_path / "recon.npz", object=np.ones((12, 12), np.complex64), canvas_com=np.array([15.0, 14.0]))
    assert main(["reconstruction-to-product", "--product", str(tmp_path / "p.h5"), "--reconstruction",
                 str(tmp_path / "recon.npz"), "--note", "ptychopinn test", "--output", str(tmp_path / "r.h5"),
                 "--quiet"]) == 0
    placed = read_product(tmp_path / "r.h5")
    assert placed.object.shape == (1, 12, 12)
    assert placed.object_center_x_m == pytest.approx(1e-6 + 2e-8 * (15.0 - 15.0))
    assert placed.object_center_y_m == pytest.approx(-1e-6 + 3e-8 * (14.0 - 15.0))
    assert placed.comments == "exported\nptychopinn test"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["product-to-npz", "--product", "x.h5"],  # --output missing
        ["product-to-npz", "--product", "x.h5", "--output", "o.npz", "--diffraction-domain", "counts"],
        ["npz-to-product", "--npz", "x.npz", "--output", "o.h5", "--pixel-size-m", "-1"],
        ["npz-to-product", "--npz", "x.npz", "--output", "o.h5", "--pixel-size-m", "1", "2", "3"],
    ],
)
def test_usage_errors_exit_2(argv):
    assert main(argv) == 2


def test_runtime_errors_exit_1_with_message(tmp_path, product_file, capsys):
    assert main(["product-to-npz", "--product", str(tmp_path / "missing.h5"), "--output",
                 str(tmp_path / "o.npz")]) == 1
    assert "missing.h5" in capsys.readouterr().err
    # no --diffraction and no /raw_data in the product
    assert main(["product-to-npz", "--product", str(tmp_path / "in.h5"), "--output", str(tmp_path / "o.npz")]) == 1
    assert "raw_data" in capsys.readouterr().err
    np.savez(tmp_path / "recon.npz", object=np.ones((4, 4), np.complex64))  # no canvas_com
    assert main(["reconstruction-to-product", "--product", str(tmp_path / "in.h5"), "--reconstruction",
                 str(tmp_path / "recon.npz"), "--output", str(tmp_path / "r.h5")]) == 1
    assert "canvas_com" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "r.h5").exists()
