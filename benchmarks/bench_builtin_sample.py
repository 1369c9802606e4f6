"""Held-out quality on the built-in sample against CPU minutes, with optional synthetic pretraining.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_builtin_sample.py [--architecture cnn|resnet] [--k 1] [--gridsize 1]
        [--minutes 10] [--pretrain-minutes 0] [--pretrain-loss nll|supervised] [--precision bf16]

Data: the simulator's default sample (the desktop app's built-in sample: feature-rich
196 px objects with independent amplitude and phase, defocused-pupil probe, 256 jittered
raster positions, 1e6 photons), training object = stream 0 grouped by the quality recipe
(resources/configs/tf_quality_recipe.yaml), held-out object = stream 1, one group per
position, stitched with M = 20 and scored by ``eval_reconstruction`` (physics §11).

Training: the plain torch loop of ``_pinn_loop.py`` (the library's PINN model and losses,
Adam 1e-3, batch 16).  With ``--pretrain-minutes P`` the first P minutes train on
``SyntheticGroupStream`` batches (fresh procedural objects through the training data's
own probe, group offsets and dose; ``--pretrain-loss supervised`` uses their true
patches, ``nll`` the physics loss), the remaining ``--minutes − P`` on the measured
training data with the Poisson NLL (no ground truth).  Prints one line per checkpoint:
steps, minutes (simulation included), loss, held-out SSIM amplitude/phase, 1-minute load.
A flat object scores 0.407 / 0.714 here (docs/benchmarks.md, "Quality reference points").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _pinn_loop import LoopConfig, build_core, load1, train_loop  # noqa: E402
from _tf_pipeline import RECIPE_PATH, RECIPE_SIMULATION, build_datasets, config_with, evaluate_model, load_recipe  # noqa: E402,E501


STITCH_VARIANT_CROPS = (8, 12, 32)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architecture", choices=("cnn", "resnet"), default="cnn")
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--gridsize", type=int, default=1)
    p.add_argument("--minutes", type=float, default=10.0, help="total training budget (pretraining included)")
    p.add_argument("--pretrain-minutes", type=float, default=0.0)
    p.add_argument("--pretrain-loss", choices=("nll", "supervised"), default="supervised")
    p.add_argument("--precision", choices=("32", "bf16"), default="bf16")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--stitch-variants", action="store_true",
                   help="at every checkpoint also score the held-out object stitched with M = 8, 12 and 32 and "
                        "with M = 32 weighted by the probe's illumination (the product stitches with M = 20)")
    p.add_argument("--group-refine-momentum", type=float, default=0.0,
                   help="ModelConfig.group_refine_momentum (Nesterov momentum of the group refinement)")
    p.add_argument("--group-refine", type=int, default=0,
                   help="ModelConfig.group_refine_iterations (docs/architecture.md, 'Group refinement')")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of the training on the measured data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-images", default=None, help="directory for the last checkpoint's stitched image (PNG)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    from ptychopinn_plugin.backends.torch import predict_objects
    from ptychopinn_plugin.backends.torch.models import DiffractionToObj
    from ptychopinn_plugin.config import neighbour_pool_for
    from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream

    cfg = config_with(load_recipe(RECIPE_PATH), model_gridsize=args.gridsize, model_n_filters_scale=args.k,
                      neighbor_count=neighbour_pool_for(args.gridsize))
    model_config = replace(cfg.model, N=64, architecture=args.architecture, group_refine_iterations=args.group_refine,
                           group_refine_momentum=args.group_refine_momentum)
    data = build_datasets(RECIPE_SIMULATION, cfg)
    s = float(np.sqrt(cfg.nphotons) / 32.0)
    core = build_core(model_config, data.train.probe, s, args.seed)
    n_params = sum(p.numel() for p in core.generator.parameters())
    print(f"built-in sample: {data.train.X.shape[0]} training groups, {data.test.X.shape[0]} held-out groups; "
          f"{args.architecture} k={args.k} g={args.gridsize} ({n_params:,} parameters), precision {args.precision}, "
          f"pretrain {args.pretrain_minutes:g} min ({args.pretrain_loss}), total {args.minutes:g} min, "
          f"group refinement {args.group_refine} (momentum {args.group_refine_momentum:g}), threads {args.threads}, "
          f"load {load1():.2f}", flush=True)
    last_image = {}

    def evaluate(model):  # noqa: ANN001
        with torch.no_grad():
            result = evaluate_model(DiffractionToObj(model), s, data.test, data.test_object,
                                    predict_objects=predict_objects, batch_size=64)
            if args.stitch_variants:
                from ptychopinn_plugin.physics.stitching import illumination_weight

                variants = {f"M={m}": dict(M=m) for m in STITCH_VARIANT_CROPS}
                variants["M=32 illumination-weighted"] = dict(M=32, weight=illumination_weight(data.train.probe, 32))
                scores = {name: evaluate_model(DiffractionToObj(model), s, data.test, data.test_object,
                                               predict_objects=predict_objects, batch_size=64, **kw).ssim
                          for name, kw in variants.items()}
                print("    stitch variants: " + ";  ".join(f"{name} {a:.3f}/{p:.3f}"
                                                         for name, (a, p) in scores.items()), flush=True)
        last_image["image"] = result.stitched.image
        return [result.ssim]

    records = []
    if args.pretrain_minutes > 0:
        from ptychopinn_plugin.backends.torch.pretrain import gauge_headroom

        # Targets in the physics gauge of the model's probe, w at log(s·k): what the library's
        # pretraining does (docs/architecture.md), and what the group refinement agrees with.
        stream = SyntheticGroupStream(np.asarray(data.train.probe), data.train.coords_nominal,
                                      nphotons=cfg.nphotons, seed=args.seed + 1,
                                      gauge_probe=core.illumination.probe())
        headroom = gauge_headroom(stream)
        with torch.no_grad():
            core.scaler.log_scale.fill_(float(np.log(s * headroom)))
        loop = LoopConfig(steps=10**9, minutes=args.pretrain_minutes, loss=args.pretrain_loss,
                          precision=args.precision, eval_every=args.eval_every, seed=args.seed, eval_at_start=True)
        print(f"pretraining on synthetic groups ({args.pretrain_loss}), physics gauge, headroom k = {headroom:.3f}",
              flush=True)
        records += train_loop(core, None, loop, s, evaluate, stream=stream, target_divisor=headroom)
    done_steps = records[-1].steps if records else 0
    done_seconds = records[-1].seconds if records else 0.0
    remaining = args.minutes - done_seconds / 60
    if remaining > 0:
        print(f"training on the measured data (Poisson NLL, lr {args.lr:g})", flush=True)
        loop = LoopConfig(steps=10**9, minutes=remaining, loss="nll", precision=args.precision,
                          eval_every=args.eval_every, seed=args.seed, eval_at_start=not records,
                          learning_rate=args.lr)
        records += train_loop(core, data.train, loop, s, evaluate, step_offset=done_steps,
                              seconds_offset=done_seconds)
    last = records[-1]
    print(f"summary builtin {args.architecture} k={args.k} g={args.gridsize} pretrain {args.pretrain_minutes:g} min "
          f"({args.pretrain_loss}): {last.steps} steps in {last.seconds / 60:.1f} min, held-out SSIM "
          f"{last.scores[0][0]:.3f} / {last.scores[0][1]:.3f} (flat object 0.407 / 0.714)")
    if args.save_images:
        from bench_paper_lines import _save_image

        name = f"builtin_{args.architecture}_k{args.k}_g{args.gridsize}_pre{args.pretrain_minutes:g}.png"
        _save_image(Path(args.save_images) / name, last_image["image"], data.test_object)
    return 0


if __name__ == "__main__":
    sys.exit(main())
