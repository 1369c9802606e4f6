"""Synthetic pretraining (issue #11 item 3): supervised steps on simulated objects seen
through the user's own probe, group geometry and dose, before the self-supervised training.

Why: trained on one measured scan, the network memorises that object (docs/benchmarks.md,
"Built-in sample").  Procedural objects (features, lines, smooth fields) drawn afresh for
every batch never repeat, and their true patches are known, so the network first learns
the inverse map itself; the measured data then fine-tune it with the physics loss, no
ground truth needed.  Measured on the built-in sample with the 'resnet' generator: 5 min
of pretraining + 3 min on the data reached held-out SSIM 0.46 / 0.85 against 0.36 / 0.78
without (``benchmarks/bench_builtin_sample.py``).

The loss is the MAE of the real and imaginary parts of each member's patch against its
true patch, on the central ``N/2`` window the network outputs.  Progress is logged every
tenth of the run and reported to a monitor that has ``on_pretrain_progress(step, steps,
loss)``; the monitor's ``should_stop()`` is polled after every step.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from ptychopinn_plugin.util.progress import NonFiniteTrainingError

from .container import positions_channels_first, to_channels_first

logger = logging.getLogger(__name__)

__all__ = ["PretrainResult", "pretrain_on_synthetic_groups"]


@dataclass(frozen=True)
class PretrainResult:
    steps: int
    """Optimiser steps done (fewer than asked when stopped)."""
    seconds: float
    final_loss: float
    """Mean loss of the last tenth of the run."""
    stopped: bool
    """True when the monitor asked to stop."""
    precision: str
    """The precision it ran in ('bf16-mixed' → bf16 autocast, anything else float32)."""


def pretrain_on_synthetic_groups(
    core: Any,
    *,
    probe: np.ndarray,
    relative_offsets: np.ndarray,
    nphotons: float,
    intensity_scale: float,
    steps: int,
    batch_size: int,
    learning_rate: float,
    precision: str,
    seed: int,
    monitor: Optional[Any] = None,
) -> PretrainResult:
    """Train ``core`` (a PINN core) for ``steps`` supervised steps on a fresh synthetic stream.

    ``probe``: the data's probe as measured (not normalised: the stream simulates physical
    diffraction and normalises it as the data pipeline does).  ``relative_offsets``: the
    training groups' member offsets ``(G, 1, 2, C)``.  ``precision``: the Lightning
    precision training uses ('bf16-mixed' → bf16 autocast on the generator; physics float32).
    """
    from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream

    if core.channels > 1 and not core.object_big:
        raise ValueError("synthetic pretraining needs object_big = True at gridsize > 1 (one patch per member, "
                         "compared with each member's true patch)")
    stream = SyntheticGroupStream(np.asarray(probe), relative_offsets, nphotons=nphotons, seed=seed)
    n = int(core.N)
    window = torch.zeros(n, n)
    window[n // 4: 3 * n // 4, n // 4: 3 * n // 4] = 1
    params = [p for p in core.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=learning_rate, eps=1e-7)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16-mixed" \
        else contextlib.nullcontext
    report_every = max(1, steps // 10)
    running: list[float] = []
    start = time.perf_counter()
    core.train()
    done, stopped = 0, False
    logger.info("synthetic pretraining: %d steps of batch %d (objects: %s)", steps, batch_size,
                ", ".join(stream.families))
    while done < steps:
        batch = stream.next_batch(batch_size)
        x = to_channels_first(batch.X)
        positions = positions_channels_first(batch.coords_relative)
        target = to_channels_first(batch.Y)
        with autocast():
            patches = core.object_patches(x, positions, float(intensity_scale))
        diff = (patches - target) * window
        loss = torch.mean(torch.abs(diff.real)) + torch.mean(torch.abs(diff.imag))
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteTrainingError(f"synthetic pretraining stopped: the loss became {value} at step {done + 1}; "
                                         "no model is saved")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        done += 1
        running.append(value)
        if done % report_every == 0 or done == steps:
            mean = float(np.mean(running[-report_every:]))
            logger.info("synthetic pretraining step %d/%d: loss %.4g", done, steps, mean)
            report = getattr(monitor, "on_pretrain_progress", None)
            if callable(report):
                report(done, steps, mean)
        if monitor is not None and monitor.should_stop():
            stopped = True
            logger.info("synthetic pretraining stopped by the caller after %d of %d steps", done, steps)
            break
    tail = running[-report_every:] or [math.nan]
    return PretrainResult(steps=done, seconds=time.perf_counter() - start, final_loss=float(np.mean(tail)),
                          stopped=stopped, precision=precision)
