"""``ptychopinn-simulate`` command line: outputs and exit codes (api spec §9)."""

from __future__ import annotations

import json

import numpy as np

from ptychopinn_plugin.cli.simulate import main


def test_cli_writes_train_and_test_files(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["--output-dir", str(out), "--n-positions", "36", "--object-size", "110",
               "--nphotons", "1e7", "--seed", "4", "--log-level", "WARNING"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "train_data.npz" in printed and "test_data.npz" in printed
    with np.load(out / "train_data.npz", allow_pickle=False) as tr, np.load(out / "test_data.npz", allow_pickle=False) as te:
        assert tr["diffraction"].shape == (36, 64, 64)
        meta = json.loads(str(tr["_metadata"]))
        assert meta["nphotons"] == 1e7 and meta["creation_info"]["seed"] == 4
        assert not np.array_equal(tr["objectGuess"], te["objectGuess"])


def test_cli_invalid_values_are_usage_errors(tmp_path, capsys):
    assert main(["--output-dir", str(tmp_path), "--N", "48"]) == 2
    assert main(["--output-dir", str(tmp_path), "--object-size", "60"]) == 2
    assert "object_size" in capsys.readouterr().err
    assert main([]) == 2  # --output-dir is required
    assert main(["--output-dir", str(tmp_path), "--n-positions", "4", "--scan-step", "3"]) == 2


def test_cli_runtime_error_exits_1_with_message(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    rc = main(["--output-dir", str(blocker / "sub"), "--n-positions", "4", "--object-size", "80", "--quiet"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("ptychopinn-simulate: error:") and "Traceback" not in err
