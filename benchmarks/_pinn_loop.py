"""A plain PyTorch training loop over the library's PINN model, for quality experiments.

Same model (``PINNCore`` with its physics), same losses (``losses.poisson_nll`` /
``amplitude_mae``), same Adam settings (lr 1e-3, ε 1e-7) as ``train_models``; no
Lightning, no validation split, so a time budget buys optimiser steps only.  Held-out
evaluation is the benchmarks' predict → stitch (M = 20) → ``eval_reconstruction`` path.
Every checkpoint prints one line with the 1-minute load next to the timing.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class LoopConfig:
    steps: int = 1000
    minutes: float = 1e9
    batch_size: int = 16
    learning_rate: float = 1e-3
    loss: str = "nll"  # 'nll' | 'mae' | 'supervised'
    precision: str = "32"  # '32' | 'bf16'
    eval_every: int = 250
    seed: int = 0
    lr_schedule: str = "constant"  # 'constant' | 'cosine'
    warmup: int = 0
    eval_at_start: bool = False


@dataclass
class LoopRecord:
    steps: int
    seconds: float
    loss: float
    scores: list[tuple[float, float]]
    load: float
    extra: dict[str, Any] = field(default_factory=dict)


def load1() -> float:
    return os.getloadavg()[0]


def build_core(model_config: Any, probe: np.ndarray, intensity_scale: float, seed: int) -> Any:
    from ptychopinn_plugin.backends.torch.models import PINNCore

    return PINNCore(model_config, intensity_scale=intensity_scale, probe=probe, seed=seed)


def train_loop(
    core: Any,
    train: Any,
    cfg: LoopConfig,
    intensity_scale: float,
    evaluate: Callable[[Any], list[tuple[float, float]]],
    *,
    on_record: Optional[Callable[[LoopRecord], None]] = None,
    stream: Any = None,
    step_offset: int = 0,
    seconds_offset: float = 0.0,
    target_divisor: float = 1.0,
) -> list[LoopRecord]:
    """Train ``core`` on container ``train`` — or, with ``stream`` (a
    ``SyntheticGroupStream``), on fresh simulated batches; evaluate every ``eval_every``
    steps and at the end.  ``step_offset``/``seconds_offset`` continue the step and time
    count of an earlier phase in the printed records.  ``target_divisor``: the stream's true
    patches are divided by it (the gauge headroom ``k`` of ``pretrain.gauge_headroom``)."""
    import torch

    from ptychopinn_plugin.backends.torch.container import positions_channels_first, to_channels_first
    from ptychopinn_plugin.backends.torch.losses import amplitude_mae, poisson_nll

    torch.manual_seed(cfg.seed)
    if stream is not None:
        train = _StreamView(stream, cfg.batch_size, target_divisor)
    x_all = to_channels_first(train.X).contiguous()
    y_all = None
    if cfg.loss == "supervised":
        # Per-member true patches (B, C, N, N), compared with the patches the probe sees.
        from ptychopinn_plugin.backends.torch.pretrain import probe_weight, supervised_patch_loss

        y_all = to_channels_first(train.Y).contiguous()
        supervised_weight = probe_weight(core)
    pos_all = positions_channels_first(train.coords_nominal).contiguous()
    n = x_all.shape[0]
    s = float(intensity_scale)
    params = [p for p in core.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.learning_rate, eps=1e-7)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(n)
    cursor = 0
    records: list[LoopRecord] = []
    train_seconds = 0.0
    running, running_n = 0.0, 0
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if cfg.precision == "bf16" else contextlib.nullcontext

    def lr_at(step: int) -> float:
        base = cfg.learning_rate
        if cfg.warmup and step < cfg.warmup:
            return base * (step + 1) / cfg.warmup
        if cfg.lr_schedule == "cosine":
            frac = min(1.0, step / max(1, cfg.steps))
            return 1e-5 + 0.5 * (base - 1e-5) * (1 + math.cos(math.pi * frac))
        return base

    def record(step: int) -> None:
        core.eval()
        scores = evaluate(core)
        core.train()
        rec = LoopRecord(step + step_offset, train_seconds + seconds_offset, running / max(1, running_n), scores,
                         load1())
        records.append(rec)
        print(f"  step {rec.steps:6d}  {rec.seconds / 60:6.2f} min  loss {rec.loss:.6g}  "
              + "  ".join(f"{a:.3f}/{p:.3f}" for a, p in scores) + f"  load {rec.load:.2f}", flush=True)
        if on_record:
            on_record(rec)

    core.train()
    step = 0
    if cfg.eval_at_start:
        record(0)
    while step < cfg.steps and train_seconds < cfg.minutes * 60:
        t0 = time.perf_counter()
        if stream is not None:  # simulate the next batch (counted in the training time)
            train.refill()
            x_all = to_channels_first(train.X)
            pos_all = positions_channels_first(train.coords_nominal)
            if y_all is not None:
                y_all = to_channels_first(train.Y)
            cursor = 0
            order = np.arange(n)
        if cursor + cfg.batch_size > n:
            order = rng.permutation(n)
            cursor = 0
        idx = torch.from_numpy(order[cursor:cursor + cfg.batch_size])
        cursor += cfg.batch_size
        x = x_all[idx]
        pos = pos_all[idx]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        if cfg.loss == "supervised":
            loss = supervised_patch_loss(core, x, pos, s, y_all[idx], supervised_weight, autocast)
        else:
            with autocast():
                _, pred_amp, pred_int = core(x, pos, s)
            target = x * s
            if cfg.loss == "mae":
                loss = amplitude_mae(target, pred_amp)
            else:
                loss = poisson_nll(target * target, pred_int)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        train_seconds += time.perf_counter() - t0
        running += float(loss.detach())
        running_n += 1
        if step % cfg.eval_every == 0:
            record(step)
            running, running_n = 0.0, 0
    if not records or records[-1].steps != step:
        record(step)
    return records


class _StreamView:
    """The container attributes the loop reads, refilled from a synthetic stream each step."""

    def __init__(self, stream: Any, batch_size: int, target_divisor: float = 1.0) -> None:
        self.stream = stream
        self.batch_size = batch_size
        self.target_divisor = float(target_divisor)
        self.refill()

    def refill(self) -> None:
        batch = self.stream.next_batch(self.batch_size)
        self.X = batch.X
        self.coords_nominal = batch.coords_relative
        self.Y = batch.Y / self.target_divisor
