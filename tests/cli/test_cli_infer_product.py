"""``ptychopinn-infer --write-product OUT.h5 --product IN.h5`` end to end (api spec §9, data spec §6).

One tiny TensorFlow model (1 epoch) is trained in-process; the input product is built with
the io API on a frame that is deliberately *not* the simulation's (padded object, non-square
pixels, off-zero centre, permuted scan indexes), its patterns go to a separate ``.npy`` file
and ``ptychopinn-convert product-to-npz`` makes the test dataset — the documented route from
a Ptychodus product to ``--test_data``.  The output is read back with our reader and with
Ptychodus 1.7's own H5 product reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test

SIM = SimulationConfig(N=64, object_size=128, n_positions=36, seed=11, nphotons=1e6)
PAD = ((19, 3), (7, 23))  # (top, bottom), (left, right) added around the simulated object
PIXEL_W, PIXEL_H = 2.0e-8, 2.5e-8
CENTER = (4.0e-7, -3.0e-7)
CROP = 20  # ptychopinn-infer's default --stitch_crop_size


def _input_product(test_npz: Path):
    """The simulated test scan as a product in a shifted, rescaled frame; also returns the patterns
    stored in index order (file row ``probe_position_indexes[m]`` = pattern of position ``m``)."""
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.io import Product

    raw = RawData.from_file(test_npz)
    obj = np.pad(raw.objectGuess, PAD)
    h, w = obj.shape
    x_px = raw.xcoords + PAD[1][0]  # object pixels of the padded object
    y_px = raw.ycoords + PAD[0][0]
    m = len(raw)
    indexes = np.random.default_rng(0).permutation(m)
    patterns = np.empty_like(raw.diff3d)
    patterns[indexes] = raw.diff3d
    product = Product(
        name="cli-infer-product", comments="input product\nsecond line", detector_object_distance_m=1.5,
        photon_energy_eV=9000.0, probe_photon_count=1e6, probe_photon_counts=np.linspace(900.0, 1100.0, m),
        probe_position_indexes=indexes,
        probe_position_x_m=CENTER[0] + PIXEL_W * (x_px - (w - 1) / 2),  # data §6.3, inverted
        probe_position_y_m=CENTER[1] + PIXEL_H * (y_px - (h - 1) / 2),
        probe=raw.probeGuess, object=obj, object_center_x_m=CENTER[0], object_center_y_m=CENTER[1],
        object_pixel_width_m=PIXEL_W, object_pixel_height_m=PIXEL_H,
        loss_values=np.array([9.0, 8.0]),  # must be replaced by the model's history
    )
    return product, patterns, np.column_stack([x_px, y_px])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Simulated data, IN.h5, the converted test NPZ and a 1-epoch TF model (in-process)."""
    pytest.importorskip("tensorflow")
    from ptychopinn_plugin.cli.convert import main as convert
    from ptychopinn_plugin.cli.train import main as train
    from ptychopinn_plugin.io import write_product
    from ptychopinn_plugin.workflows.session import clear_current_model

    root = tmp_path_factory.mktemp("infer_product")
    train_npz, test_npz = simulate_train_test(SIM, root / "sim")
    product, patterns, positions_px = _input_product(test_npz)
    in_h5 = write_product(root / "in.h5", product)
    np.save(root / "patterns.npy", patterns)
    data_npz = root / "data.npz"
    assert convert(["product-to-npz", "--product", str(in_h5), "--diffraction", str(root / "patterns.npy"),
                    "--diffraction-domain", "amplitude", "--pairing", "index", "--output", str(data_npz),
                    "--quiet"]) == 0
    model_dir = root / "model"
    assert train(["--train_data_file", str(train_npz), "--output_dir", str(model_dir), "--nepochs", "1",
                  "--n_filters_scale", "1", "--n_groups", str(SIM.n_positions), "--batch_size", "16",
                  "--nphotons", "1e6", "--seed", "1", "--recipe", "spec", "--quiet"]) == 0
    clear_current_model()
    return dict(root=root, in_h5=in_h5, data_npz=data_npz, test_npz=test_npz, model_dir=model_dir,
                product=product, positions_px=positions_px)


@pytest.mark.tf
@pytest.mark.ptychodus
def test_write_product_end_to_end(setup, tmp_path, capsys):
    h5_io = pytest.importorskip("ptychodus.plugins.h5_product_file")
    from ptychopinn_plugin.archive import read_manifest_only
    from ptychopinn_plugin.cli.infer import main as infer
    from ptychopinn_plugin.io import read_product

    out_dir, out_h5 = tmp_path / "recon", tmp_path / "products" / "out.h5"
    assert infer(["--model_path", str(setup["model_dir"]), "--test_data", str(setup["data_npz"]),
                  "--output_dir", str(out_dir), "--product", str(setup["in_h5"]),
                  "--write-product", str(out_h5)]) == 0
    assert f"output: {out_h5}" in capsys.readouterr().out
    assert [p.name for p in out_h5.parent.iterdir()] == ["out.h5"]  # atomic: no temporary left behind

    with np.load(out_dir / "reconstruction.npz", allow_pickle=False) as rec:
        stitched, com = rec["object"], rec["canvas_com"]
    p_side = stitched.shape[0]
    given = setup["product"]
    h_in, w_in = given.object_shape

    ours = read_product(out_h5)
    assert ours.object.shape == (1, p_side, p_side) and ours.object.dtype == np.complex64
    np.testing.assert_array_equal(ours.object[0], stitched)
    # data §6.2 placement
    assert ours.object_center_x_m == pytest.approx(CENTER[0] + PIXEL_W * (com[0] - w_in / 2), rel=1e-12)
    assert ours.object_center_y_m == pytest.approx(CENTER[1] + PIXEL_H * (com[1] - h_in / 2), rel=1e-12)
    assert ours.object_pixel_size_m == (PIXEL_W, PIXEL_H)
    # positions, probe and metadata unchanged
    for name in ("probe_position_indexes", "probe_position_x_m", "probe_position_y_m", "probe_photon_counts",
                 "probe"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(given, name), err_msg=name)
    for name in ("name", "detector_object_distance_m", "photon_energy_eV", "probe_photon_count",
                 "probe_pixel_width_m", "probe_pixel_height_m"):
        assert getattr(ours, name) == getattr(given, name), name
    # losses = the archive's training history; comments = input + one provenance line
    info = read_manifest_only(setup["model_dir"] / "wts.h5.zip")
    history = info.history["loss"]
    assert len(history) == 1
    np.testing.assert_array_equal(ours.loss_values, history)
    np.testing.assert_array_equal(ours.loss_epochs, [0])
    lines = ours.comments.split("\n")
    assert lines[:2] == ["input product", "second line"] and len(lines) == 3
    assert "backend=tensorflow" in lines[2] and (info.archive_sha256 or info.manifest_sha256) in lines[2]

    # Ptychodus 1.7's own reader: same object, and its geometry puts every scan position on
    # the canvas pixel where the stitcher put that patch (physics §10: k = x − com + P/2).
    theirs = h5_io.H5ProductFileIO().read(out_h5)
    np.testing.assert_array_equal(theirs.object_.get_array(), stitched[None])
    geometry = theirs.object_.get_geometry()
    assert (geometry.width_px, geometry.height_px) == (p_side, p_side)
    kx = geometry.map_probe_positions_to_object_x_px(theirs.probe_positions)
    ky = geometry.map_probe_positions_to_object_y_px(theirs.probe_positions)
    x_in, y_in = setup["positions_px"].T
    np.testing.assert_allclose(kx, x_in - com[0] + p_side / 2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ky, y_in - com[1] + p_side / 2, rtol=0, atol=1e-6)
    # … and the covered (non-zero) pixels are the CROP×CROP windows around those positions.
    rows, cols = np.nonzero(np.abs(stitched))
    assert abs(cols.min() - (kx.min() - CROP / 2)) <= 1.5 and abs(cols.max() - (kx.max() + CROP / 2)) <= 1.5
    assert abs(rows.min() - (ky.min() - CROP / 2)) <= 1.5 and abs(rows.max() - (ky.max() + CROP / 2)) <= 1.5
    np.testing.assert_array_equal(theirs.probe_positions.get_indexes(), given.probe_position_indexes)
    assert theirs.probes.get_array().shape == (1, 1, *given.probe.shape)  # Ptychodus: (Cc, I, H, W)
    np.testing.assert_array_equal(theirs.probes.get_array()[0, 0], given.probe)
    assert [(int(v.epoch), float(v.value)) for v in theirs.losses] == [(0, history[0])]
    assert theirs.metadata.name == given.name and theirs.metadata.comments == ours.comments

    # Data consistency (issue #13): per scan position in the NPZ, in consistency.json, on
    # stdout and in the product's /data_consistency group, row for row with the product's
    # positions (the test NPZ lists them in another order).
    with np.load(out_dir / "reconstruction.npz", allow_pickle=False) as rec:
        misfit = {key: rec[key] for key in rec.files if key.startswith("misfit_")}
    assert misfit["misfit_r_factor"].shape == (len(x_in),) and np.all(np.isfinite(misfit["misfit_deviance"]))
    doc = json.loads((out_dir / "consistency.json").read_text())
    assert doc["data_consistency"]["network"]["positions"] == len(x_in)
    assert ours.data_consistency is not None
    order = [int(np.argmin(np.hypot(x_in - x, y_in - y))) for x, y in zip(misfit["misfit_x"], misfit["misfit_y"])]
    np.testing.assert_array_equal(ours.data_consistency["r_factor"][order], misfit["misfit_r_factor"])
    assert ours.data_consistency["gain"] == pytest.approx(float(misfit["misfit_gain"]))
    with h5py.File(out_h5, "r") as f:
        assert sorted(f["data_consistency"]) == ["coverage", "deviance", "deviance_expected", "r_factor"]


@pytest.mark.tf
@pytest.mark.torch
def test_refinement_options(setup, tmp_path, capsys):
    """``--refine-iterations 0`` gives exactly the plain reconstruction; K > 0 refines and reports
    the misfit before and after; --skip-misfit leaves the map out."""
    pytest.importorskip("torch")
    from ptychopinn_plugin.cli.infer import main as infer

    def run(name: str, *extra: str) -> dict:
        out = tmp_path / name
        assert infer(["--model_path", str(setup["model_dir"]), "--test_data", str(setup["data_npz"]),
                      "--output_dir", str(out), *extra]) == 0
        with np.load(out / "reconstruction.npz", allow_pickle=False) as rec:
            return {key: rec[key] for key in rec.files}

    plain = run("plain", "--skip-misfit")
    capsys.readouterr()
    zero = run("zero", "--refine-iterations", "0")
    assert capsys.readouterr().out.count("data consistency") == 1
    refined = run("refined", "--refine-iterations", "4")
    out = capsys.readouterr()
    assert "misfit_r_factor" not in plain and not (tmp_path / "plain" / "consistency.json").exists()
    np.testing.assert_array_equal(zero["object"], plain["object"])
    assert "network_misfit_r_factor" not in zero
    assert out.out.count("data consistency") == 2 and "after 4 refinement iterations" in out.out
    assert "refinement 4/4" in out.err
    assert refined["refine_losses"].shape == (4,)
    np.testing.assert_array_equal(refined["network_misfit_deviance"], zero["misfit_deviance"])
    assert np.median(refined["misfit_deviance"]) < np.median(zero["misfit_deviance"])
    assert refined["object"].shape == plain["object"].shape and not np.array_equal(refined["object"], plain["object"])
    assert infer(["--model_path", str(setup["model_dir"]), "--test_data", str(setup["data_npz"]), "--skip-misfit",
                  "--refine-iterations", "2", "--output_dir", str(tmp_path / "bad")]) == 2


def test_write_product_without_product_is_a_usage_error(tmp_path, capsys):
    from ptychopinn_plugin.cli.infer import main as infer

    out = tmp_path / "out.h5"
    assert infer(["--model_path", str(tmp_path), "--test_data", str(tmp_path / "d.npz"),
                  "--write-product", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--write-product requires --product IN.h5" in err and "usage:" in err
    assert infer(["--model_path", str(tmp_path), "--product", "in.h5", "--write-product", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--test_data is required" in err and "ptychopinn-convert product-to-npz" in err
    assert not out.exists()


@pytest.mark.tf
def test_bad_input_product_or_foreign_test_data_fail_before_inference(setup, tmp_path, capsys):
    from ptychopinn_plugin.cli.infer import main as infer

    out_dir, out_h5 = tmp_path / "recon", tmp_path / "out.h5"

    def run(product: Path, data: Path) -> str:
        assert infer(["--model_path", str(setup["model_dir"]), "--test_data", str(data), "--output_dir",
                      str(out_dir), "--product", str(product), "--write-product", str(out_h5)]) == 1
        assert not out_h5.exists() and not out_dir.exists()
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    missing = tmp_path / "missing.h5"
    assert f"product file not found: {missing}" in run(missing, setup["data_npz"])
    text = tmp_path / "text.h5"
    text.write_text("not HDF5")
    err = run(text, setup["data_npz"])
    assert str(text) in err and "not a readable HDF5 product file" in err and "Ptychodus product" in err
    no_object = tmp_path / "no_object.h5"
    with h5py.File(setup["in_h5"], "r") as src, h5py.File(no_object, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for key in src:
            if key != "object":
                src.copy(key, dst)
    err = run(no_object, setup["data_npz"])
    assert str(no_object) in err and "'/object'" in err
    # The simulation's own NPZ: same scan, but in the unpadded object's pixels → refused.
    err = run(setup["in_h5"], setup["test_npz"])
    assert "does not match the scan of --product" in err and "product-to-npz" in err
