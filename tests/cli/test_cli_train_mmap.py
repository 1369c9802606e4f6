"""``ptychopinn-train`` memory-mapped PyTorch training: ``--torch-mmap-dir`` and the automatic
switch above ``STREAM_THRESHOLD`` training groups (data spec §4, physics §12.2 "Large data")."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")
pytest.importorskip("tensordict")

N = 64
COMMON = ["--recipe", "spec", "--backend", "pytorch", "--nepochs", "1", "--batch_size", "8", "--n_filters_scale", "1",
          "--nphotons", "1e6", "--seed", "1", "--torch-accelerator", "cpu", "--torch-num-workers", "0"]


@pytest.fixture(autouse=True)
def _clean_session(clean_model_session):
    yield


def _train(*args: str) -> int:
    from ptychopinn_plugin.cli.train import main

    return main(list(args))


def _manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def test_torch_mmap_dir_trains_saves_and_reuses(tiny_dataset_dir, tmp_path, capsys):
    from ptychopinn_plugin.workflows.inference import load_archive

    train_npz, test_npz = tiny_dataset_dir / "train_data.npz", tiny_dataset_dir / "test_data.npz"
    mmap_dir, out = tmp_path / "mm", tmp_path / "out"
    rc = _train("--train_data_file", str(train_npz), "--test_data_file", str(test_npz), "--do_stitching",
                "--output_dir", str(out), "--torch-mmap-dir", str(mmap_dir), "--n_groups", "32", *COMMON)
    captured = capsys.readouterr()
    assert rc == 0, captured.err[-3000:]
    # Progress: one line per epoch on stderr, as in the in-memory path.
    progress = [line for line in captured.err.splitlines() if line.startswith("epoch ")]
    assert len(progress) == 1 and re.match(r"epoch 1/1  loss -?[0-9.e+-]+  val_loss", progress[0]), captured.err
    assert f"model archive: {out / 'wts.h5.zip'}" in captured.out

    manifest = _manifest(mmap_dir)
    assert manifest["N"] == N and manifest["gridsize"] == 1 and manifest["n_groups"] == 32
    assert manifest["arrays"]["images"]["shape"] == [32, 1, N, N]
    assert manifest["sources"][0]["path"] == str(train_npz.resolve())

    loaded = load_archive(out / "wts.h5.zip")
    assert loaded.backend == "pytorch"
    assert loaded.model_config.N == N and loaded.model_config.n_filters_scale == 1
    # s = sqrt(nphotons) / (N/2) (physics §7), computed independently here.
    assert loaded.intensity_scale == pytest.approx(math.sqrt(1e6) / (N / 2), rel=1e-6)
    assert loaded.probe.shape == (N, N) and loaded.probe.dtype == np.complex64
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert loaded.history["loss"] == pytest.approx(history["loss"])
    # Test data evaluated and stitched in memory, as in the normal path.
    with np.load(out / "reconstruction.npz", allow_pickle=False) as rec:
        assert rec["amplitude"].ndim == 2 and np.isfinite(rec["amplitude"]).all()
        assert rec["object"].dtype == np.complex64

    # Second run: same request → the directory is reused untouched.
    out2 = tmp_path / "out2"
    rc = _train("--train_data_file", str(train_npz), "--output_dir", str(out2), "--torch-mmap-dir", str(mmap_dir),
                "--n_groups", "32", *COMMON)
    err = capsys.readouterr().err
    assert rc == 0, err[-3000:]
    assert _manifest(mmap_dir) == manifest  # same created_utc: not rebuilt
    assert "reusing the memory-mapped dataset" in err
    assert load_archive(out2 / "wts.h5.zip").backend == "pytorch"

    # Other grouping settings → the builder's mismatch ValueError, a runtime error (exit 1).
    capsys.readouterr()
    rc = _train("--train_data_file", str(train_npz), "--output_dir", str(tmp_path / "out3"),
                "--torch-mmap-dir", str(mmap_dir), "--n_groups", "16", *COMMON)
    err = capsys.readouterr().err
    assert rc == 1 and "built with other settings" in err and "n_groups" in err and "Traceback" not in err
    assert _manifest(mmap_dir) == manifest
    assert not (tmp_path / "out3" / "wts.h5.zip").exists()


def test_many_groups_switch_to_mmap_automatically(tiny_dataset_dir, tmp_path, monkeypatch, capsys):
    from ptychopinn_plugin.workflows import mmap_training
    from ptychopinn_plugin.workflows.inference import load_archive

    monkeypatch.setattr(mmap_training, "STREAM_THRESHOLD", 10)
    out = tmp_path / "auto"
    rc = _train("--train_data_file", str(tiny_dataset_dir / "train_data.npz"), "--output_dir", str(out),
                "--n_groups", "24", *COMMON)
    err = capsys.readouterr().err
    assert rc == 0, err[-3000:]
    manifest = _manifest(out / "mmap_dataset")
    assert manifest["n_groups"] == 24 and manifest["arrays"]["images"]["shape"][0] == 24
    infos = [line for line in err.splitlines() if line.startswith("INFO ") and "--torch-mmap-dir" in line]
    assert len(infos) == 1 and "24 training groups > 10" in infos[0] and str(out / "mmap_dataset") in infos[0]
    assert load_archive(out / "wts.h5.zip").backend == "pytorch"


def test_automatic_switch_stays_in_memory_for_unsupported_config(tiny_dataset_dir, tmp_path, monkeypatch, capsys):
    from ptychopinn_plugin.workflows import mmap_training

    monkeypatch.setattr(mmap_training, "STREAM_THRESHOLD", 10)
    out = tmp_path / "subsampled"
    # 40 of 64 positions kept, 24 groups > 10, but the builder cannot subsample → in memory.
    rc = _train("--train_data_file", str(tiny_dataset_dir / "train_data.npz"), "--output_dir", str(out),
                "--n_groups", "24", "--n_subsample", "40", "--subsample_seed", "2", *COMMON)
    err = capsys.readouterr().err
    assert rc == 0, err[-3000:]
    assert (out / "wts.h5.zip").is_file() and not (out / "mmap_dataset").exists()
    warnings = [line for line in err.splitlines() if line.startswith("WARNING ") and "in memory" in line]
    assert len(warnings) == 1 and "n_subsample" in warnings[0]


def test_below_threshold_trains_in_memory(tiny_dataset_dir, tmp_path):
    """Requested groups above the threshold but only 64 positions with gridsize 1 → capped, no switch."""
    from ptychopinn_plugin.config import ModelConfig, TrainingConfig
    from ptychopinn_plugin.workflows import mmap_training

    path = tiny_dataset_dir / "train_data.npz"
    with np.load(path, allow_pickle=False) as data:
        positions = int(data["xcoords"].size)
    assert mmap_training.npz_position_count(path) == positions
    big = TrainingConfig(model=ModelConfig(N=N), n_groups=mmap_training.STREAM_THRESHOLD + 1)
    assert mmap_training.requested_train_groups(big, positions) == positions
    grid2 = TrainingConfig(model=ModelConfig(N=N, gridsize=2), n_groups=mmap_training.STREAM_THRESHOLD + 1,
                           enable_oversampling=True)
    assert mmap_training.requested_train_groups(grid2, positions) == mmap_training.STREAM_THRESHOLD + 1
    assert mmap_training.STREAM_THRESHOLD == 10_000


@pytest.mark.parametrize("extra, flags", [
    (["--backend", "tensorflow"], ["--backend pytorch"]),
    (["--backend", "pytorch", "--model_type", "supervised"], ["--model_type"]),
    (["--backend", "pytorch", "--realspace_weight", "1", "--realspace_mae_weight", "0.5"], ["--realspace_mae_weight"]),
    (["--backend", "pytorch", "--n_subsample", "40"], ["--n_subsample"]),
    (["--backend", "pytorch", "--n_subsample", "40", "--model_type", "supervised"], ["--model_type", "--n_subsample"]),
])
def test_torch_mmap_dir_usage_errors(tiny_dataset_dir, tmp_path, capsys, extra, flags):
    mmap_dir = tmp_path / "mm"
    rc = _train("--train_data_file", str(tiny_dataset_dir / "train_data.npz"), "--output_dir", str(tmp_path / "o"),
                "--torch-mmap-dir", str(mmap_dir), "--nepochs", "1", *extra)
    err = capsys.readouterr().err
    assert rc == 2, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("ptychopinn-train: error: --torch-mmap-dir"), message
    for flag in flags:
        assert flag in message, message
    assert not mmap_dir.exists() and not (tmp_path / "o").exists()  # refused before anything was built
