"""TensorFlow backend throughput: training samples/s and inference patterns/s.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_tf_throughput.py [--groups 320] [--epochs 3] [--no-doc]

Cases: N = 64 gridsize 1, N = 64 gridsize 2, N = 128 gridsize 1, each with the default
network (``n_filters_scale = 2``), batch 16, graph mode (``train_models`` as used in
production), on simulated data (physics §13, 1e6 photons/pattern).

* Training: ``--epochs`` epochs of ``--groups`` groups (95 % train, 5 % validation).
  The first epoch includes graph tracing and is reported separately; the steady-state
  rate counts the training batches of the later epochs only (from each epoch's start to
  its last batch, so validation passes are excluded).  A "sample" is one group
  (gridsize² diffraction patterns).
* Inference: ``predict_objects`` (``diffraction_to_obj``, batch 16) over the same
  groups; the first call (tracing) is reported separately, then the best of 3 timed
  passes.  Rates are given per group and per diffraction pattern.

The CPU may be shared: the 1-minute load average is recorded with every timing.
Results go to stdout, ``benchmarks/results/tf_throughput.json`` and (unless
``--no-doc``) the "## TensorFlow throughput" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _bench_common import first_and_best, load1, publish  # noqa: E402
from _tf_pipeline import machine_description, make_container, simulate_raw, train_with_checkpoints  # noqa: E402
from ptychopinn_plugin.config import ModelConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.data.container import PtychoDataContainer  # noqa: E402
from ptychopinn_plugin.simulation import SimulationConfig  # noqa: E402

HEADING = "## TensorFlow throughput"
CASES = ((64, 1), (64, 2), (128, 1))
BATCH = 16
INFERENCE_REPEATS = 3


def simulation_for(N: int, groups: int, gridsize: int) -> SimulationConfig:
    """One scan position per group, raster step ≈ N/8 (as in the default simulation)."""
    positions = max(groups, 64)  # without oversampling, groups <= positions for every gridsize
    side = int(np.ceil(np.sqrt(positions)))
    object_size = N + 8 + 2 + int(side * N / 8)  # step ≈ N/8, as in the default simulation
    return SimulationConfig(N=N, object_size=object_size, n_positions=positions, nphotons=1e6, seed=0)


# ----------------------------------------------------------------------------- shared with the torch benchmark
def case_data(N: int, gridsize: int, groups: int, epochs: int, **config: Any) -> tuple[PtychoDataContainer, TrainingConfig]:
    """The simulated, grouped container of one case (K = 4, seed 0) and its TrainingConfig
    (batch :data:`BATCH`, seed 0, ``config`` added)."""
    sim = simulation_for(N, groups, gridsize)
    container, _ = make_container(
        simulate_raw(sim, 0), gridsize=gridsize, n_groups=groups, neighbor_count=4, seed=0, nphotons=sim.nphotons,
    )
    cfg = TrainingConfig(
        model=ModelConfig(N=N, gridsize=gridsize), batch_size=BATCH, nepochs=epochs, n_groups=groups,
        nphotons=sim.nphotons, seed=0, **config,
    )
    return container, cfg


def time_inference(predict_objects: Callable[..., Any], result: Any, container: PtychoDataContainer) -> dict:
    """``predict_objects`` of a trained ``result`` over the container (batch :data:`BATCH`):
    first call, best of :data:`INFERENCE_REPEATS`, rates per group and pattern, load after."""
    d2o, scale = result.diffraction_to_obj, result.intensity_scale
    first, best = first_and_best(
        lambda: predict_objects(d2o, container.X, container.coords_nominal, scale, batch_size=BATCH),
        INFERENCE_REPEATS,
    )
    groups, c = len(container), int(container.X.shape[3])
    return {
        "inference_first_call_s": first, "inference_best_s": best, "inference_groups_per_s": groups / best,
        "inference_patterns_per_s": groups * c / best, "load_after_inference": load1(),
    }


def parse_args(argv: list[str] | None, doc: str, first_epoch: str) -> argparse.Namespace:
    """``--groups``, ``--epochs`` (>= 2: the first epoch includes ``first_epoch``), ``--no-doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=320, help="groups per case (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per case, >= 2 (default %(default)s)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be >= 2 (the first epoch includes {first_epoch})")
    logging.basicConfig(level=logging.WARNING)
    return args


def run_cases(run_case: Callable[[int, int, int, int], dict], args: argparse.Namespace,
              row_line: Callable[[dict], str]) -> tuple[list[dict], float]:
    """Every case of :data:`CASES`, printing each row as it completes; ``(rows, seconds)``."""
    t0 = time.perf_counter()
    rows = []
    for N, g in CASES:
        row = run_case(N, g, args.groups, args.epochs)
        rows.append(row)
        print(row_line(row), flush=True)
    return rows, time.perf_counter() - t0


# ----------------------------------------------------------------------------- TensorFlow
def run_case(N: int, gridsize: int, groups: int, epochs: int, *, keep_result: bool = False) -> dict:
    """One case; ``keep_result`` adds the ``TrainResult`` under ``'_result'`` (``bench_speed.py``)."""
    from ptychopinn_plugin.backends.tf import predict_objects

    container, cfg = case_data(N, gridsize, groups, epochs)
    load_before = load1()
    run = train_with_checkpoints(container, cfg)
    load_train = load1()
    n_train = int(0.95 * len(container))
    if run.result.epochs_run != epochs:
        raise RuntimeError(f"training stopped after {run.result.epochs_run} of {epochs} epochs (early stopping?)")
    steady_time = float(sum(run.epoch_batch_seconds[1:]))
    steady_samples = n_train * (epochs - 1)
    train_rate = steady_samples / steady_time
    first = float(run.epoch_batch_seconds[0])
    tracing = first - n_train / train_rate
    return {
        "N": N, "gridsize": gridsize, "groups": len(container), "train_groups_per_epoch": n_train,
        "epochs": epochs, "first_epoch_s": first, "tracing_overhead_s": tracing,
        "steady_epoch_s": steady_time / (epochs - 1), "train_groups_per_s": train_rate,
        "train_patterns_per_s": train_rate * gridsize * gridsize,
        "load_before": load_before, "load_after_training": load_train, "precision": run.result.precision,
        **time_inference(predict_objects, run.result, container),
        **({"_result": run.result} if keep_result else {}),
    }


def format_table(rows: list[dict]) -> str:
    lines = [
        "| N | g | groups | first epoch (s) | tracing overhead (s) | steady epoch (s) | train groups/s | "
        "train patterns/s | inference first call (s) | inference groups/s | inference patterns/s | load (1-min avg) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['N']} | {r['gridsize']} | {r['groups']} | {r['first_epoch_s']:.1f} | {r['tracing_overhead_s']:.1f} | "
            f"{r['steady_epoch_s']:.1f} | {r['train_groups_per_s']:.1f} | {r['train_patterns_per_s']:.1f} | "
            f"{r['inference_first_call_s']:.1f} | {r['inference_groups_per_s']:.0f} | {r['inference_patterns_per_s']:.0f} | "
            f"{r['load_before']:.2f} → {r['load_after_training']:.2f} → {r['load_after_inference']:.2f} |"
        )
    return "\n".join(lines)


def doc_body(rows: list[dict], args: argparse.Namespace, seconds: float) -> str:
    today = _dt.date.today().isoformat()
    return f"""Command: `.venv/bin/python benchmarks/bench_tf_throughput.py --groups {args.groups} --epochs {args.epochs}` ({today}; {machine_description()}; total {seconds:.0f} s).

Default network (`n_filters_scale = 2`, `object_big`, `probe_big`, `pad_object`), batch {BATCH}, graph mode (`train_models`, no XLA), simulated data (1e6 photons/pattern). A *group* is one training sample (gridsize² patterns). Steady-state rates count the training batches of epochs 2…{args.epochs} (validation passes excluded); the first epoch includes graph tracing, and "tracing overhead" = first-epoch time − one steady epoch. Inference: `predict_objects` over the same groups with batch {BATCH}, best of {INFERENCE_REPEATS} passes after a first (tracing) call. **The 2 cores were shared with other jobs**: the load column (1-minute load average before training → after training → after inference) shows how busy the machine was; rates measured with a load above ~2 are pessimistic.

{format_table(rows)}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, "graph tracing")
    rows, seconds = run_cases(run_case, args, lambda row: format_table([row]).splitlines()[-1])
    print(format_table(rows))
    publish("tf_throughput.json", {"rows": rows, "seconds": seconds}, HEADING,
            None if args.no_doc else doc_body(rows, args, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
