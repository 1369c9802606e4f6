"""Exploratory: which training levers move the PINN off the mean-pattern plateau?

Command (from the repository root), one variant per call::

    .venv/bin/python benchmarks/bench_quality_levers.py [--k 1] [--epochs 60] [--scheduler Default]
        [--input-transform standardise] [--object-size 392 --positions 1024 --groups 1024]
        [--gridsize 2] [--smooth-object] [--threads 1]

Trains the PyTorch backend (faster than TensorFlow on this CPU, same model and loss; see
"TensorFlow versus PyTorch" in docs/benchmarks.md) on the simulator's training object and
prints ONE line: the settings, epochs, seconds, first → last training loss, last learning
rate, and the SSIM (amplitude/phase) of the stitched reconstruction of the held-out object
*and* of the training object (the second tells fitting from generalising).  Results of the
2026-11-22 runs are in docs/benchmarks.md, "Quality analysis".  Writes nothing.

Two variants leave the specs on purpose, to find out whether they would be worth a spec
amendment; neither is available through the library's public API:

* ``--input-transform standardise`` feeds the generator ``(x − μ)/σ`` per detector pixel
  (μ, σ from the training set) through a forward pre-hook on the generator, instead of
  the normalised amplitude of physics §3/§4.3.
* ``--smooth-object`` replaces the simulator's feature-rich object with the smooth random
  object physics §13 gives as its example (amplitude in [0.5, 1], phase in [−1, 1] rad,
  Gaussian-filtered noise with ``--correlation`` px).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _tf_pipeline import RECIPE_PATH, build_datasets, config_with, evaluate_model, load_recipe  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=2, help="ModelConfig.n_filters_scale (default %(default)s)")
    parser.add_argument("--gridsize", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--scheduler", default="ReduceLROnPlateau", help="'Default' = constant learning rate")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--input-transform", choices=("none", "standardise"), default="none")
    parser.add_argument("--smooth-object", action="store_true")
    parser.add_argument("--correlation", type=float, default=12.0, help="smooth object correlation length (px)")
    parser.add_argument("--object-size", type=int, default=196)
    parser.add_argument("--positions", type=int, default=256)
    parser.add_argument("--groups", type=int, default=256, help="training groups (TrainingConfig.n_groups)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    return parser.parse_args(argv)


def _use_smooth_object(correlation: float) -> None:
    import ptychopinn_plugin.simulation.dataset as dataset_module
    from ptychopinn_plugin.simulation.objects import _smooth_field

    def smooth_object(size: int, seed: int = 0, **_: object) -> np.ndarray:
        rng = np.random.default_rng(seed)
        amplitude = 0.5 + 0.5 * _smooth_field(rng, size, size, correlation)
        phase = -1.0 + 2.0 * _smooth_field(rng, size, size, correlation)
        return (amplitude * np.exp(1j * phase)).astype(np.complex64)

    dataset_module.make_object = smooth_object


def _standardise_generator_input(X: np.ndarray) -> None:
    """Wrap the torch backend's model factory so the generator sees per-pixel z-scores."""
    import torch

    import ptychopinn_plugin.backends.torch.training as training_module

    channels_first = np.moveaxis(np.asarray(X, dtype=np.float64), -1, 1)
    mean = channels_first.mean(axis=0, keepdims=True)
    std = channels_first.std(axis=0, keepdims=True)
    std = np.maximum(std, 0.1 * std.mean())  # dark pixels: no division by ~0
    mean_t = torch.tensor(mean, dtype=torch.float32)
    std_t = torch.tensor(std, dtype=torch.float32)
    build = training_module._fresh_models

    def fresh_models(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        autoencoder, diffraction_to_obj = build(*args, **kwargs)
        autoencoder.core.generator.register_forward_pre_hook(lambda _m, inputs: ((inputs[0] - mean_t) / std_t,))
        return autoencoder, diffraction_to_obj

    training_module._fresh_models = fresh_models


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.smooth_object:
        _use_smooth_object(args.correlation)
    from ptychopinn_plugin.backends.torch import predict_objects, train_models
    from ptychopinn_plugin.config import PyTorchExecutionConfig
    from ptychopinn_plugin.simulation import SimulationConfig

    sim = SimulationConfig(object_size=args.object_size, n_positions=args.positions)
    cfg = config_with(load_recipe(RECIPE_PATH), nepochs=args.epochs, n_groups=args.groups,
                      model_gridsize=args.gridsize, model_n_filters_scale=args.k)
    data = build_datasets(sim, cfg)
    if args.input_transform == "standardise":
        _standardise_generator_input(data.train.X)
    execution = PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False, logger_backend=None,
                                       early_stop_patience=1000, scheduler=args.scheduler, deterministic=False,
                                       learning_rate=args.learning_rate)
    t0 = time.perf_counter()
    result = train_models(data.train, cfg, execution)
    seconds = time.perf_counter() - t0
    scores = []
    for container, truth in ((data.test, data.test_object), (data.train, data.train_object)):
        ssim = evaluate_model(result.diffraction_to_obj, result.intensity_scale, container, truth,
                              predict_objects=predict_objects).ssim
        scores.append(f"{ssim[0]:.3f}/{ssim[1]:.3f}")
    history = result.history
    settings = (f"k={args.k} g={args.gridsize} scheduler={args.scheduler} lr={args.learning_rate:g} "
                f"input={args.input_transform} object={'smooth' if args.smooth_object else 'features'} "
                f"size={args.object_size} positions={args.positions} groups={args.groups}")
    print(f"{settings}: epochs {result.epochs_run} (~{result.batches_run} steps), {seconds:.0f} s, loss "
          f"{history['loss'][0]:.2f} → {history['loss'][-1]:.2f}, last lr "
          f"{history.get('learning_rate', [float('nan')])[-1]:.2g}; SSIM amp/phase held-out {scores[0]}, "
          f"training object {scores[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
