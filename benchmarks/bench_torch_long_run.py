"""One long PyTorch training run of the quality recipe, scored on the held-out object.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_torch_long_run.py [--epochs 150] [--scheduler ReduceLROnPlateau]

Used to test whether more optimiser steps (early stopping off) or a constant learning
rate (``--scheduler Default``) move the model off the mean-pattern plateau described in
the "Quality analysis" section of docs/benchmarks.md.  Prints one line with the epochs,
training seconds, first/last training loss, last learning rate, and the held-out SSIM,
PSNR and registration shift; compare the loss with the landmarks of
``bench_quality_baselines.py``.  Writes nothing else.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _tf_pipeline import (  # noqa: E402
    RECIPE_PATH,
    RECIPE_SIMULATION,
    build_datasets,
    config_with,
    evaluate_model,
    load_recipe,
)


def main(argv: list[str] | None = None) -> int:
    from ptychopinn_plugin.config.execution_config import SCHEDULERS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=150, help="epochs (default %(default)s)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default="ReduceLROnPlateau",
                        help="PyTorchExecutionConfig.scheduler (default %(default)s)")
    args = parser.parse_args(argv)

    from ptychopinn_plugin.backends.torch import predict_objects, train_models
    from ptychopinn_plugin.config import PyTorchExecutionConfig

    cfg = config_with(load_recipe(RECIPE_PATH), nepochs=args.epochs)
    data = build_datasets(RECIPE_SIMULATION, cfg)
    execution = PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False, logger_backend=None,
                                       early_stop_patience=1000, scheduler=args.scheduler)
    t0 = time.perf_counter()
    result = train_models(data.train, cfg, execution)
    seconds = time.perf_counter() - t0
    metrics = evaluate_model(result.diffraction_to_obj, result.intensity_scale, data.test, data.test_object,
                             predict_objects=predict_objects).metrics
    history = result.history
    print(f"epochs {result.epochs_run}, {seconds:.0f} s, loss {history['loss'][0]:.2f} → {history['loss'][-1]:.2f}, "
          f"last lr {history.get('learning_rate', [float('nan')])[-1]:.2g}, held-out SSIM amp/phase "
          f"{metrics['ssim'][0]:.4f}/{metrics['ssim'][1]:.4f}, PSNR {metrics['psnr'][0]:.2f}/{metrics['psnr'][1]:.2f}, "
          f"registration shift {metrics.get('registration_shift')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
