"""TensorFlow versus PyTorch: held-out quality after the same training (issue #4).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_backend_quality.py [--epochs 6] [--no-doc]

Both backends train the time-to-quality recipe (``resources/configs/tf_quality_recipe.yaml``:
same simulated data, same groups, same seed, same number of epochs — not the same
wall-clock budget, because PyTorch is several times slower on this CPU, see the
throughput sections), then predict the held-out object with the stored training ``s``,
stitch (M = 20) and score it with ``eval_reconstruction``.  Reported: SSIM/PSNR of
amplitude and phase per backend, their difference (the issue's criterion: within 0.02),
the final training loss and the training time.  The two backends do not share weights
(each initialises from the same seed with its own RNG), so the comparison is of what
training achieves, not a bitwise parity check (that is tests/torch/test_torch_parity.py).

Results go to stdout, ``benchmarks/results/backend_quality.json`` and (unless
``--no-doc``) the "## TensorFlow versus PyTorch: held-out quality" section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import publish  # noqa: E402
from _tf_pipeline import (  # noqa: E402
    RECIPE_PATH,
    RECIPE_SIMULATION,
    build_datasets,
    config_with,
    evaluate_model,
    load_recipe,
    machine_description,
)

HEADING = "## TensorFlow versus PyTorch: held-out quality"


def run_tensorflow(data, cfg) -> dict:
    from ptychopinn_plugin.backends.tf import predict_objects, train_models

    t0 = time.perf_counter()
    result = train_models(data.train, cfg)
    seconds = time.perf_counter() - t0
    return summarise("tensorflow", result, data, seconds, predict_objects)


def run_pytorch(data, cfg) -> dict:
    from ptychopinn_plugin.backends.torch import predict_objects, train_models
    from ptychopinn_plugin.config import PyTorchExecutionConfig

    execution = PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False, logger_backend=None)
    t0 = time.perf_counter()
    result = train_models(data.train, cfg, execution)
    seconds = time.perf_counter() - t0
    return summarise("pytorch", result, data, seconds, predict_objects)


def summarise(backend: str, result, data, seconds: float, predict_objects) -> dict:
    metrics = evaluate_model(result.diffraction_to_obj, result.intensity_scale, data.test, data.test_object,
                             predict_objects=predict_objects).metrics
    history = result.history
    return {
        "backend": backend, "epochs": result.epochs_run, "train_seconds": seconds,
        "final_loss": float(history["loss"][-1]), "final_val_loss": float(history["val_loss"][-1]),
        "ssim": [float(v) for v in metrics["ssim"]], "psnr": [float(v) for v in metrics["psnr"]],
        "registration_shift": metrics.get("registration_shift"),
        "gain": result.intensity_scale_trained / result.intensity_scale,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs per backend (default %(default)s)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    cfg = config_with(load_recipe(RECIPE_PATH), nepochs=args.epochs)
    data = build_datasets(RECIPE_SIMULATION, cfg)
    load_start = os.getloadavg()[0]
    rows = [run_tensorflow(data, cfg), run_pytorch(data, cfg)]
    tf_row, torch_row = rows
    diff = [abs(a - b) for a, b in zip(tf_row["ssim"], torch_row["ssim"])]
    record = {"date": _dt.date.today().isoformat(), "epochs": args.epochs, "rows": rows, "ssim_abs_diff": diff,
              "load_start": load_start, "load_end": os.getloadavg()[0]}
    lines = [
        f"Command: `.venv/bin/python benchmarks/bench_backend_quality.py --epochs {args.epochs}` "
        f"({record['date']}; {machine_description()}; 1-min load {load_start:.1f} → {record['load_end']:.1f}). "
        f"Recipe `resources/configs/tf_quality_recipe.yaml` trained for {args.epochs} epochs by each backend "
        "(same data, groups and seed; PyTorch on CPU with default execution settings, no checkpointing/logging), "
        "held-out object scored after stitching.",
        "",
        "| backend | epochs | training s | final loss | final val_loss | exp(w)/s | SSIM amp | SSIM phase | PSNR amp | PSNR phase |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r['backend']} | {r['epochs']} | {r['train_seconds']:.0f} | {r['final_loss']:.2f} | "
          f"{r['final_val_loss']:.2f} | {r['gain']:.4f} | {r['ssim'][0]:.4f} | {r['ssim'][1]:.4f} | "
          f"{r['psnr'][0]:.2f} | {r['psnr'][1]:.2f} |" for r in rows),
        "",
        f"|SSIM difference| amplitude {diff[0]:.4f}, phase {diff[1]:.4f} (criterion: ≤ 0.02).",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    publish("backend_quality.json", record, HEADING, None if args.no_doc else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
