"""Physics refinement (issue #13): held-out SSIM and misfit against refinement time, starting
from the network's reconstruction and from a flat object.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_refine.py [--case builtin|scan529|both] [--seconds 60]
        [--snapshot-every 25] [--model DIR] [--train-args "..."] [--step-size 1.0]
        [--momentum 0.9] [--skip-network] [--with-truth] [--json FILE]

Cases:

* ``builtin`` — the desktop app's sample (``ptychopinn-simulate`` defaults: feature-rich
  196 px objects with independent amplitude and phase, defocused probe, 256 jittered raster
  positions, 1e6 photons).  A network is trained on the training object with
  ``ptychopinn-train`` (``--train-args``, default: the PyTorch 'resnet' recipe with synthetic
  pretraining, about 7 CPU minutes; or ``--model DIR`` to reuse an archive), reconstructs
  the *held-out* object, and that reconstruction is refined; the same refinement then runs
  from a flat object on the same canvas.
* ``scan529`` — issue #13's reference scan for the pty-chi figures: 529 positions
  (a jittered 23×23 raster) on a 384 px feature-rich object at 1e9 photons, N = 64,
  refined from a flat object (a network for this dose needs its own training; with
  ``--model DIR`` trained on such data the network start is measured too).

Every ``--snapshot-every`` iterations the object is scored (physics §11
``eval_reconstruction`` against the true object: amplitude and phase SSIM) and its
misfit map computed; the clock counts refinement only (scoring excluded).  Prints one table
per start with the 1-minute load, and writes all records to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import load1, machine_description  # noqa: E402

DEFAULT_TRAIN_ARGS = ("--backend pytorch --architecture resnet --n_filters_scale 1 --nepochs 40 --n_groups 256 "
                      "--batch_size 16 --nphotons 1e6 --pretrain_steps 1600 --torch-scheduler Default "
                      "--torch-early-stop-patience 1000")


def _simulate(root: Path, case: str) -> tuple[Path, Path]:
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test

    if case == "builtin":
        cfg = SimulationConfig()
    else:
        cfg = SimulationConfig(object_size=384, n_positions=529, nphotons=1e9)
    return simulate_train_test(cfg, root / case)


def _train(root: Path, train_npz: Path, train_args: str) -> Path:
    from ptychopinn_plugin.cli.train import main as train

    out = root / "model"
    args = ["--train_data_file", str(train_npz), "--output_dir", str(out), "--quiet", *shlex.split(train_args)]
    print("ptychopinn-train " + " ".join(args[4:]), flush=True)
    t0 = time.perf_counter()
    if train(args) != 0:
        raise RuntimeError("ptychopinn-train failed")
    print(f"trained in {(time.perf_counter() - t0) / 60:.1f} min (load {load1():.2f})", flush=True)
    return out


def _network_outcome(model: Path, test_npz: Path) -> tuple[Any, Any, Any]:
    from ptychopinn_plugin.config import InferenceConfig, resolve_model_archive
    from ptychopinn_plugin.workflows.data_prep import load_data
    from ptychopinn_plugin.workflows.inference import load_predictor, reconstruct

    archive = resolve_model_archive(model)
    predictor, loaded = load_predictor(archive)
    data = load_data(test_npz)
    config = InferenceConfig(model=loaded.model_config, model_path=archive, test_data_file=test_npz,
                             backend=loaded.backend)
    t0 = time.perf_counter()
    _, outcome = reconstruct(predictor, data, config)
    print(f"network reconstruction: {time.perf_counter() - t0:.2f} s", flush=True)
    return outcome, data, loaded


def _stitched_outcome(data: Any, patches: np.ndarray) -> Any:
    """``patches`` ``(K, N, N)`` at the held-out scan's positions, stitched (M = 20) onto a canvas."""
    from ptychopinn_plugin.physics.stitching import PatchStitcher
    from ptychopinn_plugin.workflows.stitching import StitchOutcome

    offsets = np.stack([data.xcoords, data.ycoords], axis=1).reshape(-1, 1, 2, 1)
    stitcher = PatchStitcher(offsets, N=patches.shape[-1], M=20)
    stitcher.add(patches[..., None])
    result = stitcher.result()
    return StitchOutcome(image=result.image, geometry=result.geometry, global_offsets=offsets, patches=None)


def _plain_outcome(data: Any, n: int) -> Any:
    """A canvas of the held-out scan's geometry holding ones (the flat start)."""
    return _stitched_outcome(data, np.ones((len(data.xcoords), n, n), np.complex64))


def _truth_outcome(data: Any) -> Any:
    """The true object's patches at the scan positions, stitched onto a canvas."""
    from ptychopinn_plugin.util.bilinear import extract_patches

    n = data.probeGuess.shape[0]
    return _stitched_outcome(data, extract_patches(np.asarray(data.objectGuess), data.xcoords, data.ycoords, n))


def _run(label: str, start: Any, data: Any, forward: Any, seconds: float, every: int, step: float,
         threads: int, momentum: float = 0.9) -> list[dict[str, Any]]:
    from ptychopinn_plugin.config import RefinementConfig
    from ptychopinn_plugin.evaluation import eval_reconstruction
    from ptychopinn_plugin.workflows.consistency import check_consistency, refine_reconstruction, scan_patterns

    patterns = scan_patterns(data)
    records: list[dict[str, Any]] = []

    def score(iteration: int, secs: float, outcome: Any) -> None:
        metrics = eval_reconstruction(outcome.object, data.objectGuess, canvas_com=outcome.geometry.com_xy)
        misfit = check_consistency(outcome.object, outcome.geometry.origin_xy, patterns, forward).summary()
        record = {"start": label, "iteration": iteration, "seconds": round(secs, 2),
                  "ssim_amplitude": float(metrics["ssim"][0]), "ssim_phase": float(metrics["ssim"][1]),
                  "deviance_ratio_median": misfit["deviance_ratio_median"],
                  "r_factor_median": misfit["r_factor_median"], "load": load1()}
        records.append(record)
        print(f"  {label:8s} it {iteration:5d}  {secs:7.1f} s  SSIM {record['ssim_amplitude']:.3f} / "
              f"{record['ssim_phase']:.3f}  deviance {record['deviance_ratio_median']:.3g}x noise  "
              f"R {record['r_factor_median']:.4f}  load {record['load']:.2f}", flush=True)

    def progress(iteration: int, loss: float) -> bool:
        """Stop at the first snapshot past the time budget."""
        return records[-1]["seconds"] < seconds if records else True

    config = RefinementConfig(iterations=100_000, step_size=step, momentum=momentum, threads=threads)
    result = refine_reconstruction(start, patterns, forward, config, progress=progress, snapshot=score,
                                   snapshot_every=every)
    score(result.iterations_done, result.seconds, result.outcome)
    return records


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("builtin", "scan529", "both"), default="builtin")
    parser.add_argument("--seconds", type=float, default=60.0, help="refinement time per start")
    parser.add_argument("--snapshot-every", type=int, default=25, help="score every this many iterations")
    parser.add_argument("--step-size", type=float, default=1.0)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="a trained model directory/archive (skips the training)")
    parser.add_argument("--train-args", default=DEFAULT_TRAIN_ARGS)
    parser.add_argument("--skip-network", action="store_true", help="no network start (no training)")
    parser.add_argument("--with-truth", action="store_true",
                        help="also start from the true patches stitched onto the same canvas (the scoring "
                             "protocol's ceiling, and the plateau of refining the truth itself)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from ptychopinn_plugin.workflows.consistency import ForwardSetup

    print(machine_description(), flush=True)
    cases = ("builtin", "scan529") if args.case == "both" else (args.case,)
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-refine-") as tmp:
        root = Path(tmp)
        for case in cases:
            train_npz, test_npz = _simulate(root, case)
            from ptychopinn_plugin.workflows.data_prep import load_data

            data = load_data(test_npz)
            starts = []
            model = Path(args.model) if args.model else None
            if model is None and case == "builtin" and not args.skip_network:
                model = _train(root / case, train_npz, args.train_args)
            if model is not None:
                network, data, loaded = _network_outcome(model, test_npz)
                forward = ForwardSetup.of_archive(loaded)
                starts.append(("network", network))
                starts.append(("flat", _flat_like(network)))
            else:
                from ptychopinn_plugin.physics.probe import normalise_probe

                forward = ForwardSetup(probe=normalise_probe(data.probeGuess))
                starts.append(("flat", _plain_outcome(data, data.probeGuess.shape[0])))
            if args.with_truth:
                starts.append(("truth", _truth_outcome(data)))
            print(f"case {case}: {len(data.xcoords)} positions, object {data.objectGuess.shape}", flush=True)
            for label, start in starts:
                for record in _run(label, start, data, forward, args.seconds, args.snapshot_every, args.step_size,
                                   args.threads, args.momentum):
                    records.append({"case": case, **record})
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_description(), "args": vars(args),
                                               "records": records}, indent=2) + "\n")
    return 0


def _flat_like(outcome: Any) -> Any:
    from ptychopinn_plugin.workflows.consistency import flat_outcome_like

    covered = np.abs(outcome.object) > 0
    value = complex(np.mean(outcome.object[covered])) if covered.any() else 1.0
    return flat_outcome_like(outcome, value)


if __name__ == "__main__":
    raise SystemExit(main())
