"""The built-in sample as a user runs it: ``ptychopinn-simulate`` → ``ptychopinn-train`` →
``ptychopinn-infer --comparison_plot``, with and without synthetic pretraining.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_cli_pretrain.py [--pretrain-steps 1600] [--nepochs 30]
        [--architecture resnet] [--k 1] [--extra "--torch-scheduler Default"]

Every step is the command-line tool's ``main`` called in this process (the same code as
the installed commands), in a temporary directory: the app's default sample (the
simulator's defaults: feature-rich 196 px objects, defocused probe, 256 jittered raster
positions, 1e6 photons; a different object for the test file), PyTorch backend,
``--n_groups 256``, batch 16, ``--pretrain_steps`` as given (0 = off).  Prints the minutes
of training and the held-out SSIM amplitude / phase of ``metrics.json``, with the 1-minute
load.  A flat object scores 0.41 / 0.71 (docs/benchmarks.md, "Quality reference points").
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import held_out_ssim  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrain-steps", type=int, default=1600)
    parser.add_argument("--nepochs", type=int, default=30)
    parser.add_argument("--architecture", default="resnet")
    parser.add_argument("--k", type=int, default=1, help="n_filters_scale")
    parser.add_argument("--backend", choices=("pytorch", "tensorflow"), default="pytorch")
    parser.add_argument("--extra", default="", help="further ptychopinn-train arguments (one string)")
    args = parser.parse_args(argv)

    from ptychopinn_plugin.cli.simulate import main as simulate
    from ptychopinn_plugin.cli.train import main as train

    with tempfile.TemporaryDirectory(prefix="bench-cli-pretrain-") as tmp:
        root = Path(tmp)
        if simulate(["--output-dir", str(root / "sample"), "--quiet"]) != 0:
            raise RuntimeError("ptychopinn-simulate failed")
        train_args = ["--train_data_file", str(root / "sample" / "train_data.npz"), "--output_dir", str(root / "run"),
                      "--backend", args.backend, "--architecture", args.architecture, "--n_filters_scale", str(args.k),
                      "--nepochs", str(args.nepochs), "--n_groups", "256", "--batch_size", "16", "--nphotons", "1e6",
                      "--pretrain_steps", str(args.pretrain_steps), "--quiet", *shlex.split(args.extra)]
        print("ptychopinn-train " + " ".join(train_args[4:]), flush=True)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        code = train(train_args)
        minutes = (time.perf_counter() - t0) / 60
        if code != 0:
            raise RuntimeError(f"ptychopinn-train exited {code}")
        ssim = held_out_ssim(root / "run", root / "sample" / "test_data.npz", root / "recon")
        print(f"{args.backend}: pretrain_steps {args.pretrain_steps}, {args.architecture} k={args.k}, {args.nepochs} epochs: "
              f"training {minutes:.1f} min (load {load_before:.2f} → {os.getloadavg()[0]:.2f}); held-out SSIM "
              f"amplitude {ssim[0]:.3f}, phase {ssim[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
