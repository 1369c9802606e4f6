"""PyTorch backend throughput: training samples/s and inference patterns/s (same cases as TF).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_torch_throughput.py [--groups 320] [--epochs 3] [--no-doc]

Cases, data and configuration are those of ``bench_tf_throughput.py`` (imported from it):
N = 64 gridsize 1, N = 64 gridsize 2, N = 128 gridsize 1; the default network
(``n_filters_scale = 2``), batch 16, simulated data (1e6 photons/pattern, seed 0), the
same grouping (``n_groups = --groups``, K = 4, seed 0) and the same 95 %/5 % split.
The torch run uses ``train_models`` with ``PyTorchExecutionConfig(accelerator='cpu',
logger_backend='none', enable_checkpointing=False)`` (defaults otherwise: fp32,
deterministic).

* Training: the monitor's per-batch ``should_stop`` poll timestamps every training
  batch.  The steady-state rate of an epoch counts the batches after its first one
  (``(n_train − first batch) / (t_last − t_first)``), over epochs 2…E, so validation
  passes and the first batch are excluded; the first epoch's wall time (from the start
  of ``train_models``) is reported separately.  A "sample" is one group (gridsize²
  patterns).
* Inference: ``predict_objects`` (``diffraction_to_obj``, batch 16) over the same
  groups; a first call, then the best of 3 timed passes.

The CPU may be shared: the 1-minute load average is recorded with every timing.  When
``benchmarks/results/tf_throughput.json`` exists (written by the TF benchmark) the doc
section shows both backends side by side.  Results: stdout,
``benchmarks/results/torch_throughput.json`` and (unless ``--no-doc``) the
"## PyTorch throughput" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import RESULTS, load1, machine_description, publish  # noqa: E402
from bench_tf_throughput import BATCH, INFERENCE_REPEATS, case_data, parse_args, run_cases, time_inference  # noqa: E402
from ptychopinn_plugin.config import PyTorchExecutionConfig  # noqa: E402
from ptychopinn_plugin.util.progress import CallbackMonitor  # noqa: E402

HEADING = "## PyTorch throughput"


def torch_description() -> str:
    import torch

    return machine_description(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


def run_case(N: int, gridsize: int, groups: int, epochs: int, *, precision: str = "32-true",
             keep_result: bool = False) -> dict:
    """One case; ``precision`` is the execution config's (``bench_speed.py`` compares
    '32-true' with 'auto'); ``keep_result`` adds the ``TrainResult`` under ``'_result'``."""
    from ptychopinn_plugin.backends.torch import predict_objects, train_models

    container, cfg = case_data(N, gridsize, groups, epochs, backend="pytorch",
                               output_dir=Path(tempfile.mkdtemp(prefix="bench-torch-")))
    exe = PyTorchExecutionConfig(accelerator="cpu", logger_backend="none", enable_checkpointing=False,
                                 early_stop_patience=epochs + 1, precision=precision)
    stamps: list[float] = []

    def stamp() -> bool:
        stamps.append(time.perf_counter())
        return False

    load_before = load1()
    t0 = time.perf_counter()
    try:
        result = train_models(container, cfg, exe, monitor=CallbackMonitor(stop_callback=stamp))
    finally:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)
    load_train = load1()
    n_train = int(0.95 * len(container))
    per_epoch = -(-n_train // BATCH)
    if result.epochs_run != epochs or len(stamps) != per_epoch * epochs:
        raise RuntimeError(f"expected {epochs} epochs of {per_epoch} batches; got {result.epochs_run} epochs, "
                           f"{len(stamps)} batches")
    steady_samples = steady_time = 0.0
    for e in range(1, epochs):
        batch_times = stamps[e * per_epoch:(e + 1) * per_epoch]
        steady_samples += n_train - BATCH
        steady_time += batch_times[-1] - batch_times[0]
    train_rate = steady_samples / steady_time
    first_epoch = stamps[per_epoch - 1] - t0
    return {
        "N": N, "gridsize": gridsize, "groups": len(container), "train_groups_per_epoch": n_train, "epochs": epochs,
        "first_epoch_s": first_epoch, "steady_epoch_s": n_train / train_rate, "train_groups_per_s": train_rate,
        "train_patterns_per_s": train_rate * gridsize * gridsize,
        "load_before": load_before, "load_after_training": load_train, "precision": result.precision,
        **time_inference(predict_objects, result, container),
        **({"_result": result} if keep_result else {}),
    }


def _tf_rows() -> dict[tuple[int, int], dict]:
    path = RESULTS / "tf_throughput.json"
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text())["rows"]
    except (ValueError, KeyError):
        return {}
    return {(int(r["N"]), int(r["gridsize"])): r for r in rows}


def format_table(rows: list[dict], tf: dict[tuple[int, int], dict]) -> str:
    lines = [
        "| N | g | groups | backend | first epoch (s) | steady epoch (s) | train groups/s | train patterns/s | "
        "inference groups/s | inference patterns/s | load (1-min avg: before → after training → after inference) |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def line(r: dict, backend: str) -> str:
        return (
            f"| {r['N']} | {r['gridsize']} | {r['groups']} | {backend} | {r['first_epoch_s']:.1f} | "
            f"{r['steady_epoch_s']:.1f} | {r['train_groups_per_s']:.1f} | {r['train_patterns_per_s']:.1f} | "
            f"{r['inference_groups_per_s']:.0f} | {r['inference_patterns_per_s']:.0f} | "
            f"{r['load_before']:.2f} → {r['load_after_training']:.2f} → {r['load_after_inference']:.2f} |"
        )

    for r in rows:
        lines.append(line(r, "PyTorch"))
        other = tf.get((r["N"], r["gridsize"]))
        if other is not None:
            lines.append(line(other, "TensorFlow"))
    return "\n".join(lines)


def doc_body(rows: list[dict], tf: dict, args: argparse.Namespace, seconds: float) -> str:
    today = _dt.date.today().isoformat()
    tf_note = (
        "TensorFlow rows: `benchmarks/results/tf_throughput.json` from `bench_tf_throughput.py` (run just before, "
        "same data and configuration; its first epoch includes graph tracing)."
        if tf else "No TensorFlow results were available (`benchmarks/results/tf_throughput.json` absent)."
    )
    return f"""Command: `.venv/bin/python benchmarks/bench_torch_throughput.py --groups {args.groups} --epochs {args.epochs}` ({today}; {torch_description()}; total {seconds:.0f} s).

Same cases, data and configuration as the TensorFlow benchmark: default network (`n_filters_scale = 2`), batch {BATCH}, simulated data (1e6 photons/pattern), K = 4, seed 0, 95 %/5 % split; `train_models` with `PyTorchExecutionConfig(accelerator='cpu', logger_backend='none', enable_checkpointing=False)` (fp32, deterministic, eager mode). A *group* is one training sample (gridsize² patterns). Steady-state training rates count the batches after the first of each of epochs 2…{args.epochs} (validation excluded); the first epoch is wall time from the `train_models` call (model build, Lightning set-up). Inference: `predict_objects` with batch {BATCH}, best of {INFERENCE_REPEATS} passes after a first call. {tf_note} **The 2 cores were shared with other jobs**: the load column shows how busy the machine was; rates measured with a load above ~2 are pessimistic, and rows measured at different loads compare only roughly.

{format_table(rows, tf)}
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, "set-up")
    rows, seconds = run_cases(run_case, args, lambda row: format_table([row], {}).splitlines()[-1])
    tf = _tf_rows()
    print(format_table(rows, tf))
    publish("torch_throughput.json", {"rows": rows, "seconds": seconds}, HEADING,
            None if args.no_doc else doc_body(rows, tf, args, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
