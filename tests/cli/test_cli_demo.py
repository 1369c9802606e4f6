"""``ptychopinn-demo`` (the framework-free data/physics check) runs end to end and scores sensibly."""

import json

from ptychopinn_plugin.cli.demo import main


def test_demo_runs_and_stitched_ground_truth_matches(tmp_path, capsys):
    assert main(["--output-dir", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| 1 |" in out and "| 2 |" in out
    for gridsize in (1, 2):
        metrics = json.loads((tmp_path / f"gridsize{gridsize}" / "metrics.json").read_text())
        ssim = metrics["metrics"]["ssim"]
        ssim_amp, ssim_phase = ssim["amplitude"], ssim["phase"]
        # Re-stitching the true patches loses only bilinear resampling detail at fractional
        # positions; a sign/geometry error would drop SSIM far below these floors.
        assert ssim_amp > 0.9 and ssim_phase > 0.95
    assert (tmp_path / "train_data.npz").exists() and (tmp_path / "test_data.npz").exists()


def test_demo_bad_option_is_usage_error(tmp_path):
    assert main(["--stitch-crop-size", "oops"]) == 2


def test_demo_odd_crop_is_runtime_error_with_message(tmp_path, capsys):
    assert main(["--output-dir", str(tmp_path), "--stitch-crop-size", "21", "--quiet"]) == 1
    assert "21" in capsys.readouterr().err
