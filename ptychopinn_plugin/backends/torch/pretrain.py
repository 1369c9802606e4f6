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
true patch, as the probe sees it (:func:`seen_patches`: after the canvas merge),
weighted by the probe's amplitude (:func:`probe_weight`).  The true patch is taken in
the *physics gauge* of the model's probe (``SyntheticGroupStream(gauge_probe=...)``): the
object scale at which the forward model reproduces the normalised patterns, which is what
the physics loss asks for when training moves on to the measured data.  Where that gauge
needs amplitudes beyond the sigmoid's range, the model's log-scale ``w`` starts at
``log(s·k)`` instead of ``log s`` (:func:`gauge_headroom`); input and output both go through
``w``, so this only relabels the object's unit.  Progress is logged every
tenth of the run and reported to a monitor that has ``on_pretrain_progress(step, steps,
loss)``; the monitor's ``should_stop()`` is polled after every step.
"""

from __future__ import annotations

import contextlib
import copy
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

__all__ = ["AMPLITUDE_CEILING", "PretrainResult", "gauge_headroom", "pretrain_on_synthetic_groups", "probe_weight", "seen_patches",
           "supervised_patch_loss"]

AMPLITUDE_CEILING = 0.9
"""Largest target amplitude pretraining asks of the sigmoid amplitude output (its useful range)."""


def seen_patches(core: Any, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: float) -> torch.Tensor:
    """The object patches the probe sees, ``Z = crop_N(T_r(U))`` ``(B, C, N, N)`` (physics §5):
    the generator's output merged on the group canvas and extracted at each member.

    Supervised pretraining compares *these* with the true patches.  The generator's raw
    output is not the object: the ``probe_big`` border branch is amplified ×1000 by the
    canvas merge (``U = S/(K + 0.001)``), so the network must draw the border 1000× small.
    Supervising the raw output (session 5) left the border unconstrained or 1000× too
    large, and the physics loss that followed started 40-800× above the noise level and
    wrecked the model (issue #11).  With ``group_refine_iterations > 0`` the canvas is the
    refined one, so pretraining teaches the start that the refinement finishes."""
    from .physics import no_autocast

    canvas = core.refined_canvas(x, positions, input_scale_factor)
    with no_autocast(canvas.device.type):
        return core.extract(canvas, positions.float())


def probe_weight(core: Any) -> torch.Tensor:
    """``|P| / max |P|`` ``(N, N)`` of the model's probe: the supervised loss counts an error
    where the probe sees the object, in proportion to how strongly (a pixel the probe does
    not light changes no pattern).  Measured against the unweighted loss after 2 minutes of
    'lines' pretraining: correlation with the true patches 0.37 against 0.32, the physics
    MAE on the training data 61 against 74 (noise level 29)."""
    amplitude = torch.abs(torch.from_numpy(np.asarray(core.illumination.probe())))
    return (amplitude / amplitude.max()).float()


def supervised_patch_loss(core: Any, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: float,
                          target: torch.Tensor, weight: torch.Tensor, autocast: Any) -> torch.Tensor:
    """MAE of the real and imaginary parts of :func:`seen_patches` against ``target``
    ``(B, C, N, N)``, weighted by ``weight`` (:func:`probe_weight`)."""
    with autocast():
        seen = seen_patches(core, x, positions, input_scale_factor)
    diff = (seen - target) * weight
    return torch.mean(torch.abs(diff.real)) + torch.mean(torch.abs(diff.imag))


def gauge_headroom(stream: Any, *, batches: int = 8, batch_size: int = 16, quantile: float = 0.99) -> float:
    """``k ≥ 1`` such that the ``quantile`` of the physics-gauge target amplitudes, divided by
    ``k``, stays at or below :data:`AMPLITUDE_CEILING` on ``batches`` draws from a copy of
    ``stream`` (a ``SyntheticGroupStream`` built with ``gauge_probe``; the stream itself is
    not advanced).  Measured: 'lines' objects (amplitude
    0.5-1) need up to 1.25 in the gauge of a normalised probe, feature-rich ones about 0.85."""
    if stream.gauge_probe is None:
        raise ValueError("gauge_headroom needs a SyntheticGroupStream built with gauge_probe")
    n = stream.N
    sample = copy.deepcopy(stream)  # the training stream's sequence stays as seeded
    values = []
    for _ in range(batches):
        central = np.abs(sample.next_batch(batch_size).Y[:, n // 4: 3 * n // 4, n // 4: 3 * n // 4])
        values.append(central.ravel())
    high = float(np.quantile(np.concatenate(values), quantile))
    return max(1.0, high / AMPLITUDE_CEILING)


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
    gauge_headroom: float = 1.0
    """``k``: the log-scale ``w`` was set to ``log(s·k)`` before pretraining (:func:`gauge_headroom`)."""


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
    stream = SyntheticGroupStream(np.asarray(probe), relative_offsets, nphotons=nphotons, seed=seed,
                                  gauge_probe=core.illumination.probe())
    headroom = gauge_headroom(stream, batch_size=batch_size)
    with torch.no_grad():
        core.scaler.log_scale.fill_(math.log(float(intensity_scale) * headroom))
    weight = probe_weight(core)
    params = [p for p in core.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=learning_rate, eps=1e-7)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16-mixed" \
        else contextlib.nullcontext
    report_every = max(1, steps // 10)
    running: list[float] = []
    start = time.perf_counter()
    core.train()
    done, stopped = 0, False
    logger.info("synthetic pretraining: %d steps of batch %d (objects: %s; gauge headroom k = %.3f)", steps,
                batch_size, ", ".join(stream.families), headroom)
    while done < steps:
        batch = stream.next_batch(batch_size)
        x = to_channels_first(batch.X)
        positions = positions_channels_first(batch.coords_relative)
        target = to_channels_first(batch.Y) / headroom
        loss = supervised_patch_loss(core, x, positions, float(intensity_scale), target, weight, autocast)
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
                          stopped=stopped, precision=precision, gauge_headroom=headroom)
