"""Exploratory: how fast can the PINN generator learn the inverse map when told the answer?

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_supervised_learnability.py [--k 1] [--steps 1000]
        [--input-transform standardise] [--batch-size 16] [--threads 1]

Trains the PyTorch PINN *generator alone* (physics §4, no physics layers) with a plain
Adam loop, supervised: probe-intensity-weighted MSE of amplitude and phase against the
simulator's true object patches (central N/2 window), on the 256 patterns of the
training object.  Every 100 steps it prints the Pearson correlation with the truth
(illuminated pixels, |P|² > 0.1·max) of amplitude and phase on 64 training patterns and
64 held-out patterns.  This isolates the network's learning speed from the physics: if
the generator cannot learn the map quickly with the answer given, the self-supervised
PINN cannot either.  ``--input-transform standardise`` feeds per-pixel z-scores of the
normalised amplitudes instead of the amplitudes of physics §3 (not a spec option).
Results of 2026-11-22 are in docs/benchmarks.md, "Quality analysis".  Writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=1, help="ModelConfig.n_filters_scale (default %(default)s)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--input-transform", choices=("none", "standardise"), default="none")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def _load(stream: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X (B,1,N,N) normalised per physics §3, |Y|, angle(Y) central window, probe)."""
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset

    ds = simulate_dataset(SimulationConfig(), stream=stream)
    n = ds.probeGuess.shape[0]
    lo, hi = n // 4, 3 * n // 4
    amplitude = ds.diffraction.astype(np.float64)
    amplitude *= np.sqrt((n / 2) ** 2 / np.mean(np.sum(amplitude**2, axis=(1, 2))))
    window = ds.Y[:, lo:hi, lo:hi]
    return (amplitude.astype(np.float32)[:, None], np.abs(window).astype(np.float32)[:, None],
            np.angle(window).astype(np.float32)[:, None], ds.probeGuess)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    from ptychopinn_plugin.backends.torch.network import PINNGenerator
    from ptychopinn_plugin.backends.torch.seeding import make_generator
    from ptychopinn_plugin.config import ModelConfig

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x_train, amp_train, phase_train, probe = _load(0)
    x_test, amp_test, phase_test, _ = _load(1)
    n = probe.shape[0]
    lo, hi = n // 4, 3 * n // 4
    weight = np.abs(probe[lo:hi, lo:hi]) ** 2
    weight_t = torch.tensor(weight / weight.max())[None, None]
    illuminated = weight_t > 0.1
    if args.input_transform == "standardise":
        mean = x_train.mean(axis=0, keepdims=True)
        std = x_train.std(axis=0, keepdims=True)
        std = np.maximum(std, 0.1 * std.mean())
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    xt, xs = torch.tensor(x_train), torch.tensor(x_test)
    at, pt = torch.tensor(amp_train), torch.tensor(phase_train)
    generator = PINNGenerator(ModelConfig(N=n, gridsize=1, n_filters_scale=args.k), 1, make_generator(0))
    optimiser = torch.optim.Adam(generator.parameters(), lr=args.learning_rate)

    def window(t: torch.Tensor) -> torch.Tensor:
        return t[:, :, lo:hi, lo:hi]

    def correlation(pred: torch.Tensor, truth: torch.Tensor) -> float:
        mask = illuminated.expand_as(truth)
        p, t = pred[mask] - pred[mask].mean(), truth[mask] - truth[mask].mean()
        return float((p * t).sum() / (p.norm() * t.norm() + 1e-12))

    def score(x: torch.Tensor, amp: np.ndarray, phase: np.ndarray) -> str:
        with torch.no_grad():
            a, p = generator(x[:64])
        return f"{correlation(window(a), torch.tensor(amp[:64])):.3f}/{correlation(window(p), torch.tensor(phase[:64])):.3f}"

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    print(f"k={args.k} input={args.input_transform} batch={args.batch_size} lr={args.learning_rate:g}")
    for step in range(1, args.steps + 1):
        idx = rng.choice(len(xt), args.batch_size, replace=False)
        a, p = generator(xt[idx])
        loss = (weight_t * (window(a) - at[idx]) ** 2).mean() + (weight_t * (window(p) - pt[idx]) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0:
            print(f"step {step:5d}  {time.perf_counter() - started:6.0f} s  loss {loss.item():.4f}  corr amp/phase "
                  f"training {score(xt, amp_train, phase_train)}  held-out {score(xs, amp_test, phase_test)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
