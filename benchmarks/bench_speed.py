"""Training and end-to-end inference speed, float32 against ``precision = 'auto'``, both backends (issue #12).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_speed.py [--cases 64x1,64x2,128x1] [--backends pytorch,tensorflow]
        [--groups 160] [--epochs 2] [--scan 2025] [--no-doc]

For every case (N × gridsize) and backend, one after the other in one process (one heavy
job at a time; the 1-minute load is recorded next to every timing):

* **training**: ``train_models`` on ``--groups`` simulated groups (the throughput
  benchmarks' data and configuration: default network ``n_filters_scale = 2``, batch 16),
  steady-state groups/s over epochs 2…E — PyTorch with ``precision='32-true'`` and with
  ``'auto'`` (what 'auto' chose on this machine is in the table), TensorFlow in float32
  (its bf16 policy is not implemented yet, so its 'auto' is float32);
* **inference, end to end**: ``workflows.inference.reconstruct`` (grouping, prediction and
  stitching; model loading excluded) of a ``--scan``-position raster scan (45 × 45 by
  default; a quarter as many positions at N = 128) with the model just trained — the library's defaults (what
  ``ptychopinn-infer`` does: PyTorch with ``precision='auto'``), and for PyTorch also in
  float32 (the physics stays float32 either way).  A first call, then one timed call;
* **archive size**: the archive ``save_model`` writes for the trained models, against the
  bytes of their float32 weights.

Results: stdout, ``benchmarks/results/speed.json`` and (unless ``--no-doc``) the
"## Speed: float32 against precision auto" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import first_and_best, load1, machine_description, publish  # noqa: E402

HEADING = "## Speed: float32 against precision auto"
REFERENCE = """For comparison (issue #12, measured by the issue's author on this machine type): the original
PtychoPINN (TensorFlow, gridsize 1) trained 21.3 samples/s and inferred 109 patterns/s warm (plus
0.78 s to stitch 529 patterns); its authors report about 4,500 patterns/s predict-only on a GPU.
Reading: on this CPU without AMX, `precision='auto'` (bf16 on its AVX512-BF16 units) trains
1.7–1.9× and reconstructs 2.0× faster than float32 in PyTorch; the issue's targets (≥ 3× training,
≥ 500 patterns/s end to end) assume AMX and are not reached here. TensorFlow still runs in float32
(no bf16 policy yet). The batch size of inference is not the lever on CPU: 103 patterns/s at batch
32 and at batch 256 alike, float32, N = 64 (this benchmark as of commit 323673c, which also timed
batch 256; session 5). Archives hold each weight once and
no optimiser state: 0.92× the float32 weights (deflate), against 35 MB for N = 64 before (issue #12)."""
INFERENCE_REPEATS = 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="64x1,64x2,128x1", help="N x gridsize, comma-separated")
    parser.add_argument("--backends", default="pytorch,tensorflow")
    parser.add_argument("--groups", type=int, default=160, help="training groups per case")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training run (>= 2)")
    parser.add_argument("--scan", type=int, default=2025, help="scan positions of the inference dataset")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch includes set-up)")
    logging.basicConfig(level=logging.WARNING)
    return args


def _scan_data(N: int, positions: int) -> Any:
    """A ``positions``-point raster scan (RawData) of the default simulated sample at ``N``."""
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset

    side = int(np.ceil(np.sqrt(positions)))
    sim = SimulationConfig(N=N, object_size=N + 10 + int(side * N / 8), n_positions=positions, nphotons=1e6, seed=5)
    d = simulate_dataset(sim)
    return RawData(d.xcoords, d.ycoords, d.xcoords_start, d.ycoords_start, d.diffraction, d.probeGuess,
                   np.zeros(len(d.xcoords), np.int64), objectGuess=d.objectGuess)


def _time_reconstruct(predictor: Any, data: Any, N: int, gridsize: int) -> dict:
    from ptychopinn_plugin.config import InferenceConfig, ModelConfig
    from ptychopinn_plugin.workflows.inference import reconstruct

    config = InferenceConfig(model=ModelConfig(N=N, gridsize=gridsize), model_path=Path("bench"),
                             test_data_file=Path("bench.npz"))

    def call() -> None:
        reconstruct(predictor, data, config)

    first, best = first_and_best(call, INFERENCE_REPEATS)
    positions = len(data.xcoords)
    return {"batch": predictor.batch_size, "first_s": first, "best_s": best,
            "patterns_per_s": positions / best, "load": load1()}


def _inference_rows(backend: str, result: Any, N: int, gridsize: int, data: Any) -> list[dict]:
    from ptychopinn_plugin.config import ModelConfig
    from ptychopinn_plugin.workflows.backend_ops import resolve_backend
    from ptychopinn_plugin.workflows.predictor import InferencePredictor

    ops = resolve_backend(backend)
    model_config = ModelConfig(N=N, gridsize=gridsize)

    def predictor(precision: str = "auto") -> Any:
        from ptychopinn_plugin.workflows.backend_ops import DEFAULT_PREDICT_BATCH_SIZE

        return InferencePredictor(result.diffraction_to_obj, ops, model_config, result.intensity_scale,
                                  DEFAULT_PREDICT_BATCH_SIZE, precision=precision)

    rows = [{"variant": "library default", **_time_reconstruct(predictor(), data, N, gridsize)}]
    if backend == "pytorch":
        rows.append({"variant": "float32", **_time_reconstruct(predictor("32-true"), data, N, gridsize)})
    return rows


def _archive_size(backend: str, result: Any, N: int, gridsize: int) -> dict:
    """Bytes of the archive ``save_model`` writes for the trained models, and of their float32 weights."""
    import shutil
    import tempfile

    from ptychopinn_plugin.config import ModelConfig, TrainingConfig
    from ptychopinn_plugin.workflows.session import CurrentModel, save_model

    config = ModelConfig(N=N, gridsize=gridsize)
    model = CurrentModel(backend=backend, models={"autoencoder": result.autoencoder,
                                                  "diffraction_to_obj": result.diffraction_to_obj},
                         model_config=config, training_config=TrainingConfig(model=config, backend=backend),
                         intensity_scale=result.intensity_scale, intensity_scale_trained=result.intensity_scale_trained,
                         probe=np.asarray(result.probe, np.complex64))
    if backend == "pytorch":
        weights = sum(v.numel() * 4 for v in result.autoencoder.state_dict().values() if v.is_floating_point())
    else:
        weights = sum(int(np.prod(w.shape)) * 4 for w in result.autoencoder.weights)
    directory = tempfile.mkdtemp(prefix="bench-speed-archive-")
    try:
        size = save_model(directory, model).stat().st_size
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"archive_bytes": size, "weight_bytes": weights}


def run(args: argparse.Namespace) -> list[dict]:
    import bench_tf_throughput
    import bench_torch_throughput

    rows = []
    for case in args.cases.split(","):
        N, g = (int(v) for v in case.lower().split("x"))
        data = _scan_data(N, args.scan // (N // 64) ** 2)  # the same pixel count per scan at every N
        for backend in args.backends.split(","):
            runs: list[tuple[str, dict]] = []
            if backend == "pytorch":
                for precision in ("32-true", "auto"):
                    runs.append((precision, bench_torch_throughput.run_case(N, g, args.groups, args.epochs,
                                                                            precision=precision, keep_result=True)))
            else:
                runs.append(("32-true", bench_tf_throughput.run_case(N, g, args.groups, args.epochs,
                                                                     keep_result=True)))
            for requested, row in runs:
                result = row.pop("_result")
                record = {
                    "N": N, "gridsize": g, "backend": backend, "requested": requested, "precision": row["precision"],
                    "train_groups_per_s": row["train_groups_per_s"], "steady_epoch_s": row["steady_epoch_s"],
                    "train_load": row["load_after_training"],
                    "inference": _inference_rows(backend, result, N, g, data) if requested == runs[-1][0] else [],
                    **_archive_size(backend, result, N, g),
                }
                rows.append(record)
                print(_row_text(record), flush=True)
    return rows


def _row_text(r: dict) -> str:
    inference = "; ".join(f"{i['variant']} (batch {i['batch']}): {i['patterns_per_s']:.0f} patterns/s "
                          f"(load {i['load']:.2f})" for i in r["inference"])
    return (f"N={r['N']} g={r['gridsize']} {r['backend']} {r['requested']} → {r['precision']}: "
            f"train {r['train_groups_per_s']:.1f} groups/s (load {r['train_load']:.2f})"
            + (f"; inference {inference}" if inference else ""))


def format_table(rows: list[dict]) -> str:
    lines = ["| N | g | backend | precision (requested → used) | train groups/s | speed-up vs float32 | "
             "inference, end to end: patterns/s (batch, variant) | archive MB (× float32 weights) | load |",
             "|---:|---:|---|---|---:|---:|---|---|---|"]
    fp32 = {(r["N"], r["gridsize"], r["backend"]): r["train_groups_per_s"] for r in rows if r["requested"] == "32-true"}
    for r in rows:
        base = fp32.get((r["N"], r["gridsize"], r["backend"]))
        ratio = f"{r['train_groups_per_s'] / base:.2f}×" if base else "—"
        inference = "<br>".join(f"{i['patterns_per_s']:.0f} ({i['batch']}, {i['variant']})" for i in r["inference"])
        loads = ", ".join([f"{r['train_load']:.2f}"] + [f"{i['load']:.2f}" for i in r["inference"]])
        lines.append(f"| {r['N']} | {r['gridsize']} | {r['backend']} | {r['requested']} → {r['precision']} | "
                     f"{r['train_groups_per_s']:.1f} | {ratio} | {inference or '—'} | "
                     f"{r['archive_bytes'] / 1e6:.1f} ({r['archive_bytes'] / r['weight_bytes']:.2f}×) | {loads} |")
    return "\n".join(lines)


def describe() -> str:
    extras = []
    with contextlib.suppress(ImportError):
        import torch

        extras.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    with contextlib.suppress(ImportError):
        import tensorflow as tf

        extras.append(f"TensorFlow {tf.__version__}")
    from ptychopinn_plugin.util.hardware import native_bf16_cpu_flags

    extras.append(f"native bf16 flags: {', '.join(native_bf16_cpu_flags()) or 'none'}")
    return machine_description(*extras)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    t0 = time.perf_counter()
    rows = run(args)
    seconds = time.perf_counter() - t0
    table = format_table(rows)
    print(table)
    body = f"""Command: `.venv/bin/python benchmarks/bench_speed.py --cases {args.cases} --backends {args.backends} --groups {args.groups} --epochs {args.epochs} --scan {args.scan}` ({_dt.date.today().isoformat()}; {describe()}; total {seconds:.0f} s; one job at a time).

Training: steady-state groups/s (a group = gridsize² patterns) of the default network (k = 2, batch 16) over epochs 2…{args.epochs}; PyTorch in float32 and with `precision='auto'`, side by side in this one run. Inference: `reconstruct` (grouping + prediction + stitching, model loading excluded) of a {args.scan}-position scan at N = 64 ({args.scan // 4} positions at N = 128: the same pixels) with the trained model, best of {INFERENCE_REPEATS} after a first call; "library default" is what `ptychopinn-infer` does. Load: 1-minute load average after training and after each inference variant.

{table}

{REFERENCE}
"""
    publish("speed.json", {"rows": rows, "seconds": seconds}, HEADING, None if args.no_doc else body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
