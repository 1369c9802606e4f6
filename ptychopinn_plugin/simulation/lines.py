"""'lines' test objects: random thin line segments, blurred, amplitude only (flat phase).

This is the object family of the PtychoPINN authors' simulated 'lines' benchmark
(SIM-LINES-4X): "random line segments, blurred, amplitude-only, phase flat".  Their
metrics file gives neither the line density nor the blur, so this module fixes them and
says why (docs/benchmarks.md, "Paper lines benchmark"):

* ``density`` = 1 segment per 400 px² (384 segments on a 392 px object): every 32 px
  window the network reconstructs then holds a few segments on average, so every patch
  carries structure, while most of the image stays background;
* segment length uniform in [8, 48] px, random orientation, 1 px wide;
* Gaussian blur of ``blur`` = 1 px (about the finest detail the N = 64 disk probe's
  diffraction still samples well);
* amplitude ``low + (high − low)·clip(lines, 0, 1)`` with (low, high) = (0.5, 1):
  bright lines on a half-transmitting background; phase exactly 0.

Segments are drawn by bilinear splatting of points every 0.25 px along the segment
(anti-aliased, independent of the pixel grid).  Deterministic by seed.
"""

from __future__ import annotations

import numpy as np

LINES_DENSITY = 1.0 / 400.0
"""Segments per pixel of object area."""
LINE_LENGTH_RANGE = (8.0, 48.0)
"""Segment length range in pixels (uniform)."""
LINE_BLUR = 1.0
"""Gaussian blur σ in pixels applied after drawing."""


def make_lines_object(
    size: int | tuple[int, int],
    seed: int | np.random.Generator = 0,
    *,
    density: float = LINES_DENSITY,
    length_range: tuple[float, float] = LINE_LENGTH_RANGE,
    blur: float = LINE_BLUR,
    amplitude_range: tuple[float, float] = (0.5, 1.0),
) -> np.ndarray:
    """Return a ``(H, W)`` complex64 lines object with zero phase (see module docstring)."""
    from scipy.ndimage import gaussian_filter

    height, width = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if height < 8 or width < 8:
        raise ValueError(f"object size must be at least 8×8 pixels; got {(height, width)}")
    if not density > 0:
        raise ValueError(f"density = {density!r} is invalid; expected segments per pixel > 0")
    lo_len, hi_len = length_range
    if not 0 < lo_len <= hi_len:
        raise ValueError(f"length_range = {length_range!r} is invalid; expected 0 < low <= high")
    if blur < 0:
        raise ValueError(f"blur = {blur!r} is invalid; expected σ >= 0 pixels")
    amp_lo, amp_hi = amplitude_range
    if not amp_lo <= amp_hi:
        raise ValueError(f"amplitude_range = {amplitude_range!r} is invalid; expected (low, high)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    count = max(1, int(round(density * height * width)))
    centres_y = rng.uniform(0, height - 1, count)
    centres_x = rng.uniform(0, width - 1, count)
    lengths = rng.uniform(lo_len, hi_len, count)
    angles = rng.uniform(0, np.pi, count)
    canvas = np.zeros((height + 1, width + 1))
    for cy, cx, length, angle in zip(centres_y, centres_x, lengths, angles):
        t = np.linspace(-length / 2, length / 2, int(np.ceil(length * 4)) + 1)
        ys = np.clip(cy + t * np.sin(angle), 0, height - 1)
        xs = np.clip(cx + t * np.cos(angle), 0, width - 1)
        y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        fy, fx = ys - y0, xs - x0
        weight = 0.25  # 4 samples per pixel of length → unit line density
        np.add.at(canvas, (y0, x0), weight * (1 - fy) * (1 - fx))
        np.add.at(canvas, (y0 + 1, x0), weight * fy * (1 - fx))
        np.add.at(canvas, (y0, x0 + 1), weight * (1 - fy) * fx)
        np.add.at(canvas, (y0 + 1, x0 + 1), weight * fy * fx)
    lines = np.clip(canvas[:height, :width], 0.0, 1.0)
    if blur > 0:
        # A 1 px line blurred by σ peaks at 1/(sqrt(2π)·σ) (σ ≥ ~0.7): rescale so a single
        # line reaches full contrast again; crossings saturate.
        lines = gaussian_filter(lines, blur) * max(1.0, np.sqrt(2 * np.pi) * blur)
    amplitude = amp_lo + (amp_hi - amp_lo) * np.clip(lines, 0.0, 1.0)
    return amplitude.astype(np.complex64)
