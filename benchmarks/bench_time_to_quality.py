"""TensorFlow time to quality: held-out SSIM/PSNR/FRC50 versus training minutes.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_time_to_quality.py [--budget 600] [--settings both] [--no-doc]

Trains the recipe of ``resources/configs/tf_quality_recipe.yaml`` on the simulated
training object (physics §13, :data:`RECIPE_SIMULATION`) once with
``intensity_scale_trainable = True`` and once with ``False`` (physics §15 item 9), each
for at most ``--budget`` seconds of training.  After every ``--eval-every`` epochs the
current model predicts the held-out test object (a different object, one group per
scan position), the patches are stitched (M = 20) and scored with
``eval_reconstruction`` (registration on, plane phase alignment).  Evaluation time is
excluded from the training clock; graph tracing of the first epoch is included (it is
a real cost of every run).

The CPU may be shared: the 1-minute load average is recorded with every checkpoint.
Results go to stdout, ``benchmarks/results/tf_time_to_quality.json``, PNGs of the final
reconstructions under ``benchmarks/results/`` and (unless ``--no-doc``) the
"## TensorFlow time to quality" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import RESULTS, ROOT, load1, publish  # noqa: E402
from _tf_pipeline import (  # noqa: E402
    RECIPE_PATH,
    RECIPE_SIMULATION,
    TrainRun,
    build_datasets,
    config_with,
    evaluate_model,
    load_recipe,
    machine_description,
    save_comparison_png,
    train_with_checkpoints,
)

HEADING = "## TensorFlow time to quality"
MILESTONES_MIN = (1, 2, 3, 5, 7.5, 10)


def run_setting(trainable: bool, args: argparse.Namespace) -> dict:
    cfg = config_with(load_recipe(args.recipe), intensity_scale_trainable=trainable)
    cfg = config_with(cfg, nepochs=max(cfg.nepochs, 1))
    data = build_datasets(RECIPE_SIMULATION, cfg)

    def evaluate(model, scale):
        return evaluate_model(model, scale, data.test, data.test_object)

    eval_epochs = range(args.eval_every - 1, cfg.nepochs, args.eval_every)
    load_start = load1()
    run: TrainRun = train_with_checkpoints(
        data.train, cfg, evaluate=evaluate, eval_epochs=eval_epochs, budget_seconds=args.budget
    )
    final = run.checkpoints[-1]
    label = f"trainable_{str(trainable).lower()}"
    png = RESULTS / f"tf_time_to_quality_{label}.png"
    save_comparison_png(
        png, final.evaluation.stitched, data.test_object,
        title=(f"intensity_scale_trainable={trainable}: {final.train_seconds / 60:.1f} min, "
               f"SSIM amp {final.evaluation.ssim[0]:.3f} phase {final.evaluation.ssim[1]:.3f}"),
    )
    rows = []
    for c in run.checkpoints:
        rows.append({
            "epoch": c.epoch + 1, "train_minutes": c.train_seconds / 60.0, "loss": c.loss, "val_loss": c.val_loss,
            "gain_exp_w_over_s": c.log_scale_gain, "load1": c.load[0], **c.evaluation.row(),
        })
        print(f"  trainable={trainable} epoch {c.epoch + 1:3d} {c.train_seconds / 60:5.2f} min  SSIM amp "
              f"{c.evaluation.ssim[0]:.4f} phase {c.evaluation.ssim[1]:.4f}  load {c.load[0]:.2f}", flush=True)
    return {
        "intensity_scale_trainable": trainable, "train_groups": len(data.train), "test_groups": len(data.test),
        "epochs_run": run.result.epochs_run, "completed": run.result.completed,
        "train_seconds": run.train_seconds, "eval_seconds": run.eval_seconds,
        "first_epoch_seconds": run.first_epoch_seconds, "load_start": load_start,
        "final_gain": run.result.intensity_scale_trained / run.result.intensity_scale,
        "rows": rows, "png": str(png.relative_to(ROOT)),
    }


def at_minutes(rows: list[dict], minutes: float) -> dict | None:
    """The last checkpoint whose training clock is at or before ``minutes``."""
    done = [r for r in rows if r["train_minutes"] <= minutes + 1e-9]
    return done[-1] if done else None


def checkpoint_table(result: dict) -> str:
    lines = [
        "| epoch | training min | SSIM amp | SSIM phase | PSNR amp (dB) | PSNR phase (dB) | FRC50 amp | FRC50 phase | "
        "registration shift (dy, dx) px | exp(w)/s | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['epoch']} | {r['train_minutes']:.2f} | {r['ssim_amp']:.4f} | {r['ssim_phase']:.4f} | "
            f"{r['psnr_amp']:.2f} | {r['psnr_phase']:.2f} | {r['frc50_amp']:.1f} | {r['frc50_phase']:.1f} | "
            f"({r['shift_dy']:+.2f}, {r['shift_dx']:+.2f}) | {r['gain_exp_w_over_s']:.4f} | {r['load1']:.1f} |"
        )
    return "\n".join(lines)


def summary_table(results: list[dict]) -> str:
    header = "| minutes of training | " + " | ".join(
        f"SSIM amp / phase (trainable={r['intensity_scale_trainable']})" for r in results
    ) + " |"
    lines = [header, "|---:|" + "---|" * len(results)]
    for m in MILESTONES_MIN:
        cells = []
        for r in results:
            row = at_minutes(r["rows"], m)
            cells.append("—" if row is None else f"{row['ssim_amp']:.3f} / {row['ssim_phase']:.3f} (epoch {row['epoch']})")
        lines.append(f"| {m:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def winner(results: list[dict]) -> str:
    if len(results) != 2:
        return "Only one setting was run; no comparison."
    finals = {r["intensity_scale_trainable"]: r["rows"][-1] for r in results}
    score = {k: v["ssim_amp"] + v["ssim_phase"] for k, v in finals.items()}
    best = max(score, key=score.get)
    other = not best
    return (f"Final held-out SSIM (amp + phase): trainable=True {score[True]:.4f}, trainable=False "
            f"{score[False]:.4f}; better: **intensity_scale_trainable={best}** (by {score[best] - score[other]:.4f}).")


def doc_body(results: list[dict], args: argparse.Namespace, seconds: float) -> str:
    today = _dt.date.today().isoformat()
    cfg = load_recipe(args.recipe)
    sim = RECIPE_SIMULATION
    parts = [
        f"Command: `.venv/bin/python benchmarks/bench_time_to_quality.py --budget {args.budget:g} "
        f"--eval-every {args.eval_every}` ({today}; {machine_description()}; total wall time {seconds / 60:.1f} min).",
        "",
        f"Recipe `{Path(args.recipe).relative_to(ROOT) if Path(args.recipe).is_absolute() else args.recipe}`: N = "
        f"{cfg.model.N}, gridsize {cfg.model.gridsize} (neighbor_count {cfg.neighbor_count}), n_filters_scale "
        f"{cfg.model.n_filters_scale}, batch {cfg.batch_size}, n_groups {cfg.n_groups}, nphotons {cfg.nphotons:g}, "
        f"seed {cfg.seed}, everything else at the spec defaults. Simulation (physics §13): object {sim.object_size} px, "
        f"{sim.n_positions} positions (raster step ≈ {(sim.scan_high - sim.scan_low) / (math.ceil(math.sqrt(sim.n_positions)) - 1):.1f} px), "
        f"{sim.nphotons:g} photons/pattern, seed {sim.seed}; training object = stream 0, held-out test object = "
        "stream 1 (different object), all its positions, one group each. Training clock excludes evaluation; "
        f"each run stops cooperatively after {args.budget / 60:g} min of training. Registration shifts are "
        "those `eval_reconstruction` applied (physics §11); SSIM is scikit-image SSIM after registration and plane "
        "phase alignment. **The 2 cores were shared with other jobs** (load column = 1-minute load average at "
        "each checkpoint): with a load above 2 the same number of epochs takes proportionally longer.",
        "",
        "Held-out quality at fixed training times (last checkpoint at or before that time):",
        "",
        summary_table(results),
        "",
        winner(results),
    ]
    for r in results:
        parts += [
            "",
            f"### intensity_scale_trainable = {r['intensity_scale_trainable']}",
            "",
            f"{r['train_groups']} training groups, {r['test_groups']} test groups; {r['epochs_run']} epochs in "
            f"{r['train_seconds'] / 60:.2f} min of training (first epoch incl. tracing {r['first_epoch_seconds']:.1f} s; "
            f"evaluation {r['eval_seconds']:.0f} s, not counted); final exp(w)/s = {r['final_gain']:.4f}. "
            f"Image: `{r['png']}` (git-ignored).",
            "",
            checkpoint_table(r),
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default=str(RECIPE_PATH), help="recipe YAML (default %(default)s)")
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per setting (default %(default)s)")
    parser.add_argument("--eval-every", type=int, default=2, help="evaluate every k epochs (default %(default)s)")
    parser.add_argument("--settings", choices=("both", "true", "false"), default="both",
                        help="which intensity_scale_trainable settings to run (default %(default)s)")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.eval_every < 1:
        parser.error("--eval-every must be >= 1")
    logging.basicConfig(level=logging.WARNING)
    settings = {"both": (True, False), "true": (True,), "false": (False,)}[args.settings]
    t0 = time.perf_counter()
    results = []
    for trainable in settings:
        print(f"intensity_scale_trainable={trainable}", flush=True)
        results.append(run_setting(trainable, args))
    seconds = time.perf_counter() - t0
    print(summary_table(results))
    print(winner(results))
    publish("tf_time_to_quality.json", {"results": results, "seconds": seconds}, HEADING,
            None if args.no_doc else doc_body(results, args, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
