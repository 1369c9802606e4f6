"""metrics.json / metrics.csv and the ``ptychopinn-evaluate`` command line."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from ptychopinn_plugin.cli.evaluate import main
from ptychopinn_plugin.evaluation import eval_reconstruction, read_metrics_json, write_metrics
from ptychopinn_plugin.simulation import make_object
from ptychopinn_plugin.util.atomic import atomic_savez


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return make_object(120, 21)


def test_json_and_csv_round_trip_with_infinite_psnr(tmp_path, truth):
    metrics = eval_reconstruction(truth, truth)
    json_path, csv_path = write_metrics(metrics, tmp_path / "out", info={"note": "identity"})
    raw = json.loads(json_path.read_text())  # strict JSON: parses with the standard library
    assert raw["metrics"]["psnr"] == {"amplitude": "inf", "phase": "inf"}
    back = read_metrics_json(json_path)
    assert back["metrics"]["psnr"]["amplitude"] == math.inf
    assert back["metrics"]["ssim"]["phase"] == pytest.approx(metrics["ssim"][1])
    assert len(back["metrics"]["frc"]["amplitude"]) == len(metrics["frc"][0])
    assert back["registration_shift"] == {"dy": 0.0, "dx": 0.0}
    assert back["info"] == {"note": "identity"}
    with open(csv_path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["metric", "amplitude", "phase"]
    table = {r[0]: (float(r[1]), float(r[2])) for r in rows[1:]}
    assert table["psnr"] == (math.inf, math.inf)
    assert table["mae"] == (0.0, 0.0)
    assert "frc" not in table and set(table) >= {"ms_ssim", "frc50", "frc1over7", "psnr_legacy"}


def _write_inputs(tmp_path, truth, recon, com):
    gt = tmp_path / "data.npz"
    atomic_savez(gt, objectGuess=truth.astype(np.complex64))
    rec = tmp_path / "recon.npz"
    arrays = {"object": recon.astype(np.complex64)[..., None]}
    if com is not None:
        arrays["canvas_com"] = np.asarray(com, dtype=np.float64)
    atomic_savez(rec, **arrays)
    return rec, gt


def test_cli_scores_reconstruction_with_canvas_com(tmp_path, truth, capsys):
    com = (61.0, 58.0)
    canvas = truth[58 - 30 : 58 + 30, 61 - 30 : 61 + 30] * np.exp(0.4j)
    rec, gt = _write_inputs(tmp_path, truth, canvas, com)
    out = tmp_path / "metrics"
    rc = main(["--reconstruction", str(rec), "--ground-truth", str(gt), "--output-dir", str(out),
               "--log-level", "WARNING"])
    assert rc == 0
    assert "metric" in capsys.readouterr().out
    doc = read_metrics_json(out / "metrics.json")
    assert doc["metrics"]["ssim"]["amplitude"] == pytest.approx(1.0, abs=1e-6)
    assert doc["metrics"]["mae"]["phase"] < 1e-6  # global phase removed
    assert doc["info"]["canvas_com"] == [61.0, 58.0]
    assert (out / "metrics.csv").is_file()


def test_cli_no_register_and_mean_alignment_and_test_data_alias(tmp_path, truth):
    rec, gt = _write_inputs(tmp_path, truth, truth, None)
    out = tmp_path / "m2"
    rc = main(["--reconstruction", str(rec), "--test-data", str(gt), "--output-dir", str(out),
               "--no-register", "--phase-align", "mean", "--quiet"])
    assert rc == 0
    doc = read_metrics_json(out / "metrics.json")
    assert doc["registration_shift"] is None
    assert doc["info"]["phase_align_method"] == "mean" and doc["info"]["register"] is False


def test_cli_exit_codes(tmp_path, truth, capsys):
    rec, gt = _write_inputs(tmp_path, truth, truth, None)
    assert main(["--ground-truth", str(gt)]) == 2  # no reconstruction and no model
    assert main(["--reconstruction", str(rec)]) == 2  # no ground truth
    assert main(["--reconstruction", str(rec), "--ground-truth", str(gt), "--phase-align", "median"]) == 2
    capsys.readouterr()
    # Model mode with a directory holding no model archive: runtime error with an explanation.
    assert main(["--model-dir", str(tmp_path), "--test-data", str(gt), "--output-dir", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "model" in err and "--reconstruction" in err and "Traceback" not in err
    assert not (tmp_path / "x" / "metrics.json").exists()
    # Missing ground truth key / file → runtime error.
    no_gt = tmp_path / "nogt.npz"
    atomic_savez(no_gt, xcoords=np.zeros(3))
    assert main(["--reconstruction", str(rec), "--ground-truth", str(no_gt), "--quiet"]) == 1
    assert "objectGuess" in capsys.readouterr().err
    assert main(["--reconstruction", str(tmp_path / "missing.npz"), "--ground-truth", str(gt), "--quiet"]) == 1
