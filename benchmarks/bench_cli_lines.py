"""Issue #11's command-line criterion: ``ptychopinn-train`` on one 529-pattern raster scan of a
'lines' object, stopped with Ctrl-C after a time budget, then ``ptychopinn-infer`` on a scan
of a second, different 'lines' object.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_cli_lines.py [--minutes 20] [--extra "--gridsize 3 ..."]

Data: ``ptychopinn-simulate --object lines --n-positions 529 --object-size 384 --nphotons 1e9``
(the simulator's defocused-pupil probe, jittered 23 × 23 raster, step about 14 px; the test
file holds a different object, same probe).  Training: the installed ``ptychopinn-train`` in a
child process with ``--nphotons 1e9 --nepochs 100000`` plus ``--extra``, sent SIGINT (Ctrl-C)
after ``--minutes``; it saves the model marked incomplete and exits 130.  Inference:
``ptychopinn-infer --comparison_plot``; the held-out amplitude / phase SSIM come from its
``metrics.json`` (physics §11: registered, the scan's footprint).  Prints the epochs done,
the training minutes, the SSIM and the 1-minute load.  The criterion: held-out amplitude
SSIM >= 0.90 after 20 minutes with default settings.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import held_out_ssim  # noqa: E402

BIN = Path(sys.executable).parent


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:1])} exited {done.returncode}: {done.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="Ctrl-C after this many training minutes")
    parser.add_argument("--extra", default="", help="further ptychopinn-train arguments (one string)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cli-lines-") as tmp:
        root = Path(tmp)
        _run([str(BIN / "ptychopinn-simulate"), "--output-dir", str(root / "data"), "--object", "lines",
              "--n-positions", "529", "--object-size", "384", "--nphotons", "1e9", "--seed", str(args.seed),
              "--quiet"])
        train_cmd = [str(BIN / "ptychopinn-train"), "--train_data_file", str(root / "data" / "train_data.npz"),
                     "--output_dir", str(root / "run"), "--nphotons", "1e9", "--nepochs", "100000",
                     *shlex.split(args.extra)]
        print("ptychopinn-train " + " ".join(train_cmd[5:]), flush=True)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        child = subprocess.Popen(train_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            child.wait(timeout=args.minutes * 60)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
        out, _ = child.communicate()
        minutes = (time.perf_counter() - t0) / 60
        if child.returncode not in (0, 130):
            raise RuntimeError(f"ptychopinn-train exited {child.returncode}: {out[-3000:]}")
        history = json.loads((root / "run" / "history.json").read_text())
        losses = history.get("loss") or history.get("history", {}).get("loss") or []
        amplitude, phase = held_out_ssim(root / "run", root / "data" / "test_data.npz", root / "recon")
        print(f"lines 529-pattern scan: {len(losses)} epochs in {minutes:.1f} min (exit {child.returncode}; load "
              f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}); held-out SSIM amplitude {amplitude:.3f}, "
              f"phase {phase:.3f} (criterion: amplitude >= 0.90 after 20 min)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
