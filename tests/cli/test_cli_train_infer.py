"""``ptychopinn-train`` / ``ptychopinn-infer`` / ``ptychopinn-evaluate --model-dir`` (api spec §9)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test

TINY = SimulationConfig(N=64, object_size=128, n_positions=64, seed=3, nphotons=1e6)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli_data")
    simulate_train_test(TINY, out)
    return out


def _run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"ptychopinn_plugin.cli.{module}", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=900)


# ----------------------------------------------------------------------------- exit codes (no training)
def test_usage_and_runtime_errors(data_dir, tmp_path, capsys):
    from ptychopinn_plugin.cli.infer import main as infer
    from ptychopinn_plugin.cli.train import main as train

    train_npz = str(data_dir / "train_data.npz")
    assert train(["--nepochs", "1"]) == 2  # no training data anywhere
    assert "--train_data_file is required" in capsys.readouterr().err
    assert train(["--train_data_file", train_npz, "--model_type", "bogus"]) == 2  # argparse choices
    capsys.readouterr()
    assert train(["--train_data_file", train_npz, "--batch_size", "12", "--output_dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "power of two" in err and "Traceback" not in err  # strict CLI validation
    assert train(["--train_data_file", str(tmp_path / "missing.npz")]) == 1
    assert "missing.npz" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

    assert infer(["--test_data", train_npz]) == 2
    assert "--model_path is required" in capsys.readouterr().err
    assert infer(["--model_path", str(tmp_path), "--test_data", train_npz]) == 1
    assert "no model archive found" in capsys.readouterr().err
    assert infer(["--model_path", str(tmp_path), "--test_data", train_npz, "--write-product", "o.h5"]) == 2
    assert "--product" in capsys.readouterr().err


def test_progress_printer_formats_one_line_per_epoch():
    from ptychopinn_plugin.cli._progress import EpochProgressPrinter, format_seconds

    ticks = iter([0.0, 10.0, 20.0])
    stream = io.StringIO()
    printer = EpochProgressPrinter(stream, clock=lambda: next(ticks))
    printer.on_epoch_end(0, 4, {"loss": -12.5, "train_loss": -12.5, "val_loss": -11.0, "learning_rate": 1e-3})
    printer.on_epoch_end(1, 4, {"loss": -13.0, "val_loss": -12.0})
    lines = stream.getvalue().splitlines()
    assert lines[0] == "epoch 1/4  loss -12.5  val_loss -11  lr 0.001  elapsed 0:10  ETA 0:30"
    assert lines[1] == "epoch 2/4  loss -13  val_loss -12  elapsed 0:20  ETA 0:20"
    assert format_seconds(3725) == "1:02:05" and printer.should_stop() is False


# ----------------------------------------------------------------------------- end to end
@pytest.mark.tf
@pytest.mark.slow
def test_train_then_infer_then_evaluate_end_to_end(data_dir, tmp_path):
    pytest.importorskip("tensorflow")
    train_npz, test_npz = data_dir / "train_data.npz", data_dir / "test_data.npz"
    yaml_path = tmp_path / "run.yaml"
    yaml_path.write_text("model:\n  n_filters_scale: 1\nnepochs: 5\nnphotons: 1000000.0\n")
    out = tmp_path / "trained"
    trained = _run(
        "train", "--config", str(yaml_path), "--train_data_file", str(train_npz), "--test_data_file", str(test_npz),
        "--output_dir", str(out), "--nepochs", "2", "--n_groups", "64", "--seed", "1", "--do_stitching", "--recipe", "spec",
        "--torch-accelerator", "cpu", cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    progress = [line for line in trained.stderr.splitlines() if line.startswith("epoch ")]
    assert len(progress) == 2, trained.stderr[-3000:]
    assert re.match(r"epoch 1/2  loss -?[0-9.e+-]+  val_loss -?[0-9.e+-]+  .*elapsed \d+:\d\d  ETA \d+:\d\d$",
                    progress[0])
    assert "--torch-* flags are ignored" in trained.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "history.json", "reconstructed_amplitude.png", "reconstructed_phase.png", "reconstruction.npz", "wts.h5.zip"]
    assert f"model archive: {out / 'wts.h5.zip'}" in trained.stdout
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2

    from ptychopinn_plugin.archive import read_manifest_only

    info = read_manifest_only(out / "wts.h5.zip")
    assert info.N == 64 and info.model_config.n_filters_scale == 1  # YAML value used
    assert info.training_config.nepochs == 2 and info.training_config.nphotons == 1e6  # CLI > YAML

    inferred = tmp_path / "inferred"
    run = _run("infer", "--model_path", str(out), "--test_data", str(test_npz), "--output_dir", str(inferred),
               "--comparison_plot", "--debug", "--torch-inference-batch-size", "8", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in inferred.iterdir()) == [
        "comparison.png", "consistency.json", "inference_debug.json", "metrics.csv", "metrics.json",
        "reconstructed_amplitude.png", "reconstructed_phase.png", "reconstruction.npz"]
    with np.load(out / "reconstruction.npz", allow_pickle=False) as a, \
            np.load(inferred / "reconstruction.npz", allow_pickle=False) as b:
        # Same model, same test data, one group per position: inference reproduces training's stitching.
        np.testing.assert_allclose(b["amplitude"], a["amplitude"], rtol=1e-5, atol=1e-6 * a["amplitude"].max())
        np.testing.assert_allclose(b["canvas_com"], a["canvas_com"], rtol=0, atol=1e-9)
        assert b["object"].dtype == np.complex64
    debug = json.loads((inferred / "inference_debug.json").read_text())
    assert debug["groups"] == TINY.n_positions and debug["gridsize"] == 1 and debug["backend"] == "tensorflow"
    metrics = json.loads((inferred / "metrics.json").read_text())
    # issue #13: the misfit summary next to the comparison metrics, and in consistency.json
    network = metrics["info"]["data_consistency"]["network"]
    assert network["positions"] == TINY.n_positions and network["deviance_ratio_median"] > 0
    assert json.loads((inferred / "consistency.json").read_text())["data_consistency"]["network"] == network

    # ptychopinn-evaluate's model mode (in-process: the subprocess start-up was shown above).
    from ptychopinn_plugin.cli.evaluate import main as evaluate

    evaluated = tmp_path / "evaluated"
    assert evaluate(["--model-dir", str(out), "--test-data", str(test_npz), "--output-dir", str(evaluated),
                     "--quiet"]) == 0
    ev_metrics = json.loads((evaluated / "metrics.json").read_text())
    assert ev_metrics["metrics"]["ssim"] == pytest.approx(metrics["metrics"]["ssim"], abs=1e-6)
    assert {"metrics.json", "metrics.csv", "comparison.png", "reconstruction.npz"} <= {
        p.name for p in evaluated.iterdir()}

    mismatch = _run("infer", "--model_path", str(out / "wts.h5.zip"), "--test_data", str(test_npz), "--backend",
                    "pytorch", "--output_dir", str(tmp_path / "x"), cwd=tmp_path)
    assert mismatch.returncode == 1
    assert "saved by the tensorflow backend; active backend is pytorch" in mismatch.stderr
    product = _run("infer", "--model_path", str(out), "--test_data", str(test_npz), "--write-product", "o.h5",
                   "--product", "i.h5", cwd=tmp_path)
    assert product.returncode == 1 and "product file not found: i.h5" in product.stderr  # checked before inference
    assert not (tmp_path / "o.h5").exists()


def test_default_recipe_trains_the_refined_gridsize_3_model_and_infer_groups_it(data_dir, tmp_path):
    """ptychopinn-train's default ``--recipe measured`` (config/recipes.py): without any model
    flag the archive holds gridsize 3 with 20 refinement iterations at momentum 0.9 and a pool
    of 12 (more groups than positions through oversampling); ptychopinn-infer, left at its
    default neighbour count 4, groups that model with the 12-pool fallback and reconstructs."""
    pytest.importorskip("torch")
    from ptychopinn_plugin.archive import read_manifest_only
    from ptychopinn_plugin.cli.infer import main as infer
    from ptychopinn_plugin.cli.train import main as train

    out = tmp_path / "trained"
    assert train(["--train_data_file", str(data_dir / "train_data.npz"), "--output_dir", str(out), "--backend",
                  "pytorch", "--nepochs", "1", "--n_filters_scale", "1", "--n_groups", str(2 * TINY.n_positions),
                  "--nphotons", "1e6", "--quiet"]) == 0
    info = read_manifest_only(out / "wts.h5.zip")
    model = info.model_config
    assert (model.gridsize, model.group_refine_iterations, model.group_refine_momentum) == (3, 20, 0.9)
    assert (info.training_config.neighbor_count, info.training_config.enable_oversampling) == (12, True)
    inferred = tmp_path / "inferred"
    assert infer(["--model_path", str(out), "--test_data", str(data_dir / "test_data.npz"), "--output_dir",
                  str(inferred), "--comparison_plot", "--quiet"]) == 0
    metrics = json.loads((inferred / "metrics.json").read_text())["metrics"]["ssim"]
    assert 0.0 < metrics["amplitude"] <= 1.0


def test_torch_deterministic_flags_use_the_spec_spelling():
    """api spec §9 spells the pair --torch-deterministic/--torch-no-deterministic; the
    argparse-style --no-torch-deterministic stays an alias; no flag leaves the default."""
    from ptychopinn_plugin.cli.train import build_parser, torch_execution_config

    base = ["--train_data_file", "t.npz", "--backend", "pytorch"]
    parser = build_parser()
    assert parser.parse_args(base).torch_deterministic is None
    assert parser.parse_args(base + ["--torch-deterministic"]).torch_deterministic is True
    assert parser.parse_args(base + ["--torch-no-deterministic"]).torch_deterministic is False
    assert parser.parse_args(base + ["--no-torch-deterministic"]).torch_deterministic is False
    assert torch_execution_config(parser.parse_args(base + ["--torch-no-deterministic"])).deterministic is False


def test_post_training_prediction_batch_size_follows_spec_default():
    """api spec §2.6: inference_batch_size None → the training batch_size."""
    from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig
    from ptychopinn_plugin.workflows.training import evaluation_batch_size

    config = TrainingConfig(model=ModelConfig(N=64), batch_size=8)
    assert evaluation_batch_size(config, None) == 8
    assert evaluation_batch_size(config, PyTorchExecutionConfig()) == 8
    assert evaluation_batch_size(config, PyTorchExecutionConfig(inference_batch_size=5)) == 5
