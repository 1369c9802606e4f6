"""Physics refinement of a reconstructed object (issue #13): object-only iterations
through the far-field forward model, with autograd.

The network's stitched object is a fast first guess; iterations of the same physics the
network was trained with (physics §6.2 illumination, §8 propagation) close the gap where
the guess is close.  Probe and positions are known and fixed; only the object changes.
Everything is float32 (no autocast): the refinement is physics, not network.

Objective and step (docs/consistency.md, measured in benchmarks/bench_refine.py):

* the Poisson likelihood in its variance-stabilised form, ``Σ (sqrt(λ) − sqrt(y))²`` with
  ``λ = gain·|DFT2(P ⊙ O_r)|²/N²`` (``sqrt`` of Poisson counts has variance ≈ 1/4
  whatever the mean).  The plain Poisson NLL has a gradient ``∝ y/λ`` that is singular
  where the model predicts no photons; from a flat start it diverged (loss 1e7);
* every iteration is one full-batch Fisher-scoring step: the autograd gradient divided by
  ``2·gain·(Σ_r |P_r|² + δ)`` (the summed probe intensity at each object pixel, plus
  ``δ`` = a fraction of its maximum so weakly lit pixels take small steps).  With
  ``step_size = 1`` this moves every predicted amplitude onto the measured one and
  averages the overlapping corrections, as ePIE/ML-type solvers do; it needs no
  learning-rate tuning across doses;
* heavy-ball momentum 0.9 on the steps (measured: from a flat start on the 529-position
  1e9-photon scan, amplitude SSIM 0.75 → 0.88 after 300 iterations against none).

Convention of the working frame: pixel ``(i, j)`` holds object coordinate
``(origin_y + i, origin_x + j)``; patch pixel ``(i, j)`` at position ``(x, y)`` samples
``(y + i − N/2, x + j − N/2)`` bilinearly (the NumPy ``util.bilinear.extract_patches``
convention), with zeros outside the frame.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from ptychopinn_plugin.backends.torch.physics import ProbeIllumination

logger = logging.getLogger(__name__)

__all__ = ["RefineSettings", "RefineOutcome", "refine_object"]


@dataclass(frozen=True)
class RefineSettings:
    """How to refine (validated by the workflow layer's ``RefinementConfig``)."""

    iterations: int
    """Full-batch gradient steps."""
    step_size: float = 1.0
    """Fraction of the Fisher-scoring step (1 = move each amplitude onto the measured one)."""
    regularisation: float = 0.05
    """Added to the summed probe intensity, as a fraction of its maximum (keeps weakly lit
    pixels from taking huge steps)."""
    momentum: float = 0.9
    """Heavy-ball momentum of the steps (0 = plain Fisher scoring; 0.9 measured best)."""
    chunk: int = 512
    """Scan positions per forward/backward pass (memory bound; the step is full batch)."""
    gaussian_smoothing_sigma: float = 0.0
    probe_mask: bool = False
    threads: Optional[int] = None
    """torch intra-op threads (None: leave as is)."""


@dataclass
class RefineOutcome:
    """The refined frame and the loss per iteration."""

    obj: np.ndarray
    """complex64 ``(H, W)``, same frame as the start."""
    losses: list[float] = field(default_factory=list)
    """Mean squared amplitude misfit ``(sqrt(λ) − sqrt(y))²`` per pixel before each step
    (about 0.25 at the Poisson noise level for bright pixels, less for faint ones)."""
    iterations_done: int = 0
    stopped_early: bool = False
    seconds: float = 0.0


class _Extractor:
    """Bilinear extraction of ``(K, N, N)`` patches from a ``(H, W)`` complex frame, differentiable.

    One ``index_select`` gathers the ``(N+1)×(N+1)`` integer crop of every patch from the
    frame viewed as real ``(H·W + 1, 2)`` rows (the extra zero row stands for "outside"); the
    four bilinear corners are then shifted views of that crop.  The backward of the gather
    is one ``index_add`` (advanced indexing on 2-D views was many times slower).
    """

    def __init__(self, frame_hw: tuple[int, int], row_start: np.ndarray, col_start: np.ndarray, n: int) -> None:
        height, width = frame_hw
        self.n = n
        r0 = np.floor(row_start)
        c0 = np.floor(col_start)
        tr = torch.from_numpy((row_start - r0).astype(np.float32))[:, None, None, None]
        tc = torch.from_numpy((col_start - c0).astype(np.float32))[:, None, None, None]
        rows = r0.astype(np.int64)[:, None] + np.arange(n + 1)[None, :]
        cols = c0.astype(np.int64)[:, None] + np.arange(n + 1)[None, :]
        inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
        flat = np.where(inside, rows[:, :, None] * width + cols[:, None, :], height * width)
        self.index = torch.from_numpy(flat.astype(np.int64))
        self.weights = ((1 - tr) * (1 - tc), (1 - tr) * tc, tr * (1 - tc), tr * tc)
        # The same four weights as one 2×2 kernel per patch and part (real, imaginary), for a
        # grouped convolution: one operation forward and backward instead of four slices.
        kernel = torch.stack([torch.cat([self.weights[0], self.weights[1]], dim=-1)[:, 0, 0, :],
                              torch.cat([self.weights[2], self.weights[3]], dim=-1)[:, 0, 0, :]], dim=1)
        self.kernel = kernel[:, None].repeat_interleave(2, dim=0).reshape(-1, 1, 2, 2).contiguous()

    def __call__(self, frame: torch.Tensor, sl: slice) -> torch.Tensor:
        real = torch.view_as_real(frame).reshape(-1, 2)
        real = torch.cat([real, real.new_zeros(1, 2)], dim=0)
        index = self.index[sl]
        crop = real.index_select(0, index.reshape(-1)).reshape(*index.shape, 2)
        k, n = index.shape[0], self.n
        planes = crop.permute(0, 3, 1, 2).reshape(1, 2 * k, n + 1, n + 1)
        kernel = self.kernel.reshape(-1, 2, 1, 2, 2)[sl].reshape(-1, 1, 2, 2)
        out = torch.nn.functional.conv2d(planes, kernel, groups=2 * k).reshape(k, 2, n, n)
        return torch.complex(out[:, 0], out[:, 1])

    def adjoint(self, values: torch.Tensor, frame_hw: tuple[int, int]) -> torch.Tensor:
        """Scatter real ``(K, N, N)`` values back onto the frame with the same bilinear weights."""
        n = self.n
        w00, w01, w10, w11 = (w[..., 0] for w in self.weights)
        crop = values.new_zeros(values.shape[0], n + 1, n + 1)
        crop[:, :n, :n] += w00 * values
        crop[:, :n, 1:] += w01 * values
        crop[:, 1:, :n] += w10 * values
        crop[:, 1:, 1:] += w11 * values
        out = values.new_zeros(frame_hw[0] * frame_hw[1] + 1)
        out.index_add_(0, self.index.reshape(-1), crop.reshape(-1))
        return out[:-1].reshape(frame_hw)


def refine_object(start: np.ndarray, origin_xy: tuple[float, float], xcoords: np.ndarray, ycoords: np.ndarray,
                  counts: np.ndarray, probe: np.ndarray, gain: float, settings: RefineSettings, *,
                  progress: Optional[Callable[[int, float], bool]] = None,
                  snapshot: Optional[Callable[[int, float, np.ndarray], None]] = None,
                  snapshot_every: int = 0) -> RefineOutcome:
    """Refine ``start`` (complex ``(H, W)``) so that ``gain·|DFT2(P ⊙ O_r)|²/N²`` explains ``counts``.

    ``counts``: ``(K, N, N)`` measured counts (fftshift-ed patterns, zero frequency at
    ``(N/2, N/2)``); ``gain``: the global gain of the start (``ConsistencyMap.gain``), kept
    fixed so the object keeps its gauge.  ``progress(iteration, loss)`` is called after
    every step; returning False stops and keeps the object reached ("stop and keep").
    ``snapshot(iteration, seconds, frame)`` receives a copy of the frame every
    ``snapshot_every`` iterations (and at 0); ``seconds`` counts refinement time only, the
    callback's own time excluded (benchmarks score intermediate objects this way).
    """
    if settings.threads:
        torch.set_num_threads(int(settings.threads))
    started = time.perf_counter()
    start = np.asarray(start)
    height, width = start.shape
    n = int(np.asarray(probe).shape[0])
    x = np.asarray(xcoords, dtype=np.float64).reshape(-1) - float(origin_xy[0])
    y = np.asarray(ycoords, dtype=np.float64).reshape(-1) - float(origin_xy[1])
    k = x.shape[0]
    extractor = _Extractor((height, width), y - n // 2, x - n // 2, n)
    # The measured patterns are fftshift-ed; the model's DFT output is not: unshift once.
    target_root = torch.from_numpy(np.sqrt(np.fft.ifftshift(np.asarray(counts, dtype=np.float64),
                                                            axes=(-2, -1))).astype(np.float32))
    # The model's own illumination step (probe, §6.2 smoothing with reflect padding, mask).
    illuminate = ProbeIllumination(n, np.asarray(probe), gaussian_smoothing_sigma=settings.gaussian_smoothing_sigma,
                                   probe_mask=settings.probe_mask)
    probe_t = torch.from_numpy(np.asarray(probe).astype(np.complex64))
    params = torch.nn.Parameter(torch.view_as_real(torch.from_numpy(start.astype(np.complex64)).clone()))
    intensity = (probe_t.real**2 + probe_t.imag**2).expand(k, n, n)
    illumination = extractor.adjoint(intensity.contiguous(), (height, width))
    denominator = illumination + settings.regularisation * float(illumination.max())
    # Gauss-Newton information of Σ(A − sqrt(y))² is 2 per pixel in A = sqrt(gain)·|DFT ψ|/N;
    # mapped back to ψ (unitary DFT) and onto the object (summed over the positions that see
    # each pixel); the loss below is a mean over 'total' pixels.
    preconditioner = (float(k * n * n) / (2.0 * float(gain) * denominator))[..., None]
    root_scale = math.sqrt(float(gain)) / float(n)
    outcome = RefineOutcome(obj=start.astype(np.complex64))
    total = float(k * n * n)
    excluded = 0.0

    def take_snapshot(iteration: int) -> None:
        nonlocal excluded
        mark = time.perf_counter()
        frame_now = torch.view_as_complex(params.detach()).numpy().astype(np.complex64)
        snapshot(iteration, mark - started - excluded, frame_now)
        excluded += time.perf_counter() - mark

    if snapshot is not None and snapshot_every > 0:
        take_snapshot(0)
    velocity = None
    for iteration in range(int(settings.iterations)):
        params.grad = None
        loss_value = 0.0
        for lo in range(0, k, int(settings.chunk)):
            sl = slice(lo, min(lo + int(settings.chunk), k))
            # A fresh complex view per chunk: each chunk's graph is freed by its backward.
            psi = illuminate(extractor(torch.view_as_complex(params), sl)[:, None])[:, 0]
            amplitude = root_scale * torch.abs(torch.fft.fft2(psi))
            loss = ((amplitude - target_root[sl]) ** 2).sum() / total
            loss.backward()
            loss_value += float(loss.detach())
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"refinement diverged at iteration {iteration} (loss {loss_value})")
        with torch.no_grad():
            step = settings.step_size * preconditioner * params.grad
            if settings.momentum > 0:
                velocity = step if velocity is None else settings.momentum * velocity + step
                step = velocity
            params -= step
        outcome.losses.append(loss_value)
        outcome.iterations_done = iteration + 1
        if snapshot is not None and snapshot_every > 0 and (iteration + 1) % snapshot_every == 0:
            take_snapshot(iteration + 1)
        if progress is not None and progress(iteration + 1, loss_value) is False:
            outcome.stopped_early = True
            break
    outcome.obj = torch.view_as_complex(params.detach()).numpy().astype(np.complex64)
    outcome.seconds = time.perf_counter() - started - excluded
    logger.info("refined the object over %d positions: %d iterations in %.1f s, amplitude misfit %.4g → %.4g", k,
                outcome.iterations_done, outcome.seconds, outcome.losses[0] if outcome.losses else float("nan"),
                outcome.losses[-1] if outcome.losses else float("nan"))
    return outcome
