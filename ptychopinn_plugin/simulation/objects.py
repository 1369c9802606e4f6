"""Synthetic complex test objects with fine, varied structure.

A reconstruction test is only informative if the object has detail at every scale the
probe and detector can resolve, so the object combines

* line gratings with periods from 3 to 12 pixels at random orientations,
* discs and rings of several sizes,
* Siemens-star sector patterns (continuously varying spatial frequency),
* a smooth random background (low spatial frequencies),

laid out on a jittered grid of cells that covers the whole object.  Each feature
modulates amplitude and phase with its own random weights (some features are
amplitude-only, some phase-only, most both with different strength or sign), so the
amplitude and phase images are related but not copies of each other and both are
worth scoring.  All edges are anti-aliased over about one pixel, so the object is
well sampled on the pixel grid.

Amplitude lies in ``amplitude_range`` (default [0.5, 1]) and phase in ``phase_range``
(default [−1, 1] rad).  Different seeds give different feature placement.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

GRATING_PERIODS = (3.0, 4.0, 5.0, 6.0, 8.0, 12.0)
CELL_SIZE = 36
BACKGROUND_WEIGHT = 0.3

# A feature paints a [0, 1] map on local coordinates (dy, dx) relative to its centre.
_Painter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def make_object(
    size: int | tuple[int, int],
    seed: int | np.random.Generator = 0,
    *,
    amplitude_range: tuple[float, float] = (0.5, 1.0),
    phase_range: tuple[float, float] = (-1.0, 1.0),
) -> np.ndarray:
    """Return a ``(H, W)`` complex64 object; ``size`` is a side or ``(H, W)``.

    Deterministic: the same ``seed`` (int) always gives the same array.  Passing a
    ``numpy.random.Generator`` draws from (and advances) that generator instead.
    """
    height, width = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if height < 8 or width < 8:
        raise ValueError(f"object size must be at least 8×8 pixels; got {(height, width)}")
    amp_lo, amp_hi = amplitude_range
    ph_lo, ph_hi = phase_range
    if not (amp_lo <= amp_hi and ph_lo <= ph_hi):
        raise ValueError(f"ranges must be (low, high); got amplitude {amplitude_range}, phase {phase_range}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    bg_amp = _smooth_field(rng, height, width, correlation=max(height, width) / 8)
    bg_phase = _smooth_field(rng, height, width, correlation=max(height, width) / 6)
    amp_features = np.zeros((height, width))
    phase_features = np.zeros((height, width))

    for cy, cx, radius in _cell_centres(rng, height, width):
        painter = _random_feature(rng, radius)
        w_amp, w_phase = _channel_weights(rng)
        _paint(amp_features, phase_features, painter, cy, cx, radius, w_amp, w_phase)

    # One large Siemens star: a continuous sweep of spatial frequencies in both channels.
    star_radius = 0.18 * min(height, width)
    cy = rng.uniform(star_radius, height - star_radius)
    cx = rng.uniform(star_radius, width - star_radius)
    star = _siemens_star(int(rng.integers(16, 33)), star_radius)
    _paint(amp_features, phase_features, star, cy, cx, star_radius, 0.9, -0.8)

    amp_t = BACKGROUND_WEIGHT * bg_amp + (1 - BACKGROUND_WEIGHT) * np.clip(amp_features, 0.0, 1.0)
    ph_t = BACKGROUND_WEIGHT * (2 * bg_phase - 1) + (1 - BACKGROUND_WEIGHT) * np.clip(phase_features, -1.0, 1.0)
    amplitude = amp_hi - (amp_hi - amp_lo) * amp_t  # features absorb: darker where present
    phase = ph_lo + (ph_hi - ph_lo) * (ph_t + 1) / 2
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _smooth_field(rng: np.random.Generator, height: int, width: int, correlation: float) -> np.ndarray:
    """White noise low-pass filtered with a Gaussian of width ``correlation`` px, scaled to [0, 1]."""
    noise = rng.standard_normal((height, width))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    sigma = correlation / 2.0
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    field = np.fft.ifft2(np.fft.fft2(noise) * kernel).real
    span = field.max() - field.min()
    return (field - field.min()) / span if span > 0 else np.zeros_like(field)


def _cell_centres(rng: np.random.Generator, height: int, width: int) -> list[tuple[float, float, float]]:
    """Jittered grid of (centre y, centre x, feature radius) covering the object."""
    rows = max(1, round(height / CELL_SIZE))
    cols = max(1, round(width / CELL_SIZE))
    cell_h, cell_w = height / rows, width / cols
    radius = 0.42 * min(cell_h, cell_w)
    out = []
    for r in range(rows):
        for c in range(cols):
            cy = (r + 0.5) * cell_h + rng.uniform(-0.1, 0.1) * cell_h
            cx = (c + 0.5) * cell_w + rng.uniform(-0.1, 0.1) * cell_w
            out.append((cy, cx, radius * rng.uniform(0.75, 1.0)))
    return out


def _channel_weights(rng: np.random.Generator) -> tuple[float, float]:
    """(amplitude weight in [0, 1], phase weight in [−1, 1]) — related but different channels."""
    kind = rng.uniform()
    if kind < 0.2:  # amplitude only
        return float(rng.uniform(0.5, 1.0)), 0.0
    if kind < 0.4:  # phase only
        return 0.0, float(rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.0))
    return float(rng.uniform(0.3, 1.0)), float(rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 1.0))


def _random_feature(rng: np.random.Generator, radius: float) -> _Painter:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        period = float(rng.choice(GRATING_PERIODS))
        return _grating(period, float(rng.uniform(0, np.pi)), radius)
    if kind == 1:
        return _discs(rng, radius)
    if kind == 2:
        return _siemens_star(int(rng.integers(8, 21)), radius)
    return _rings(float(rng.uniform(1.5, 3.0)), radius)


def _soft_disc(dist: np.ndarray, radius: float) -> np.ndarray:
    """1 inside ``radius``, 0 outside, with a one-pixel linear edge (anti-aliasing)."""
    return np.clip(radius - dist + 0.5, 0.0, 1.0)


def _grating(period: float, angle: float, radius: float) -> _Painter:
    """Square-wave line grating (duty 0.5) of ``period`` px inside a disc of ``radius``."""

    def paint(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        u = dx * np.cos(angle) + dy * np.sin(angle)
        tri = np.abs(np.mod(u / period, 1.0) - 0.5)  # 0 at bar centre … 0.5 at gap centre
        bars = np.clip((0.25 - tri) * period + 0.5, 0.0, 1.0)  # signed px distance to an edge
        return bars * _soft_disc(np.hypot(dy, dx), radius)

    return paint


def _discs(rng: np.random.Generator, radius: float) -> _Painter:
    """A few non-concentric discs of radius 2…radius/2 inside the cell."""
    count = int(rng.integers(2, 6))
    params = []
    for _ in range(count):
        r = float(rng.uniform(2.0, max(2.5, radius / 2)))
        ang = rng.uniform(0, 2 * np.pi)
        off = rng.uniform(0, max(0.0, radius - r))
        params.append((off * np.sin(ang), off * np.cos(ang), r, float(rng.uniform(0.5, 1.0))))

    def paint(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        out = np.zeros_like(dy)
        for oy, ox, r, level in params:
            out = np.maximum(out, level * _soft_disc(np.hypot(dy - oy, dx - ox), r))
        return out

    return paint


def _siemens_star(spokes: int, radius: float) -> _Painter:
    """Sector pattern with ``spokes`` dark spokes: spatial frequency rises towards the centre."""

    def paint(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        dist = np.hypot(dy, dx)
        t = np.mod(np.arctan2(dy, dx) * spokes / (2 * np.pi), 1.0)
        arc_px = 2 * np.pi * np.maximum(dist, 1e-6) / spokes  # one spoke period in px at this radius
        sectors = np.clip((0.25 - np.abs(t - 0.5)) * arc_px + 0.5, 0.0, 1.0)
        return sectors * _soft_disc(dist, radius)

    return paint


def _rings(width: float, radius: float) -> _Painter:
    """Concentric rings of line width ``width`` px, spaced 2·width apart."""

    def paint(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        dist = np.hypot(dy, dx)
        tri = np.abs(np.mod(dist / (2 * width), 1.0) - 0.5)
        rings = np.clip((0.25 - tri) * 2 * width + 0.5, 0.0, 1.0)
        return rings * _soft_disc(dist, radius)

    return paint


def _paint(
    amp: np.ndarray, phase: np.ndarray, painter: _Painter, cy: float, cx: float, radius: float,
    w_amp: float, w_phase: float,
) -> None:
    """Add ``painter``'s map, weighted per channel, inside its bounding box only (cheap for big objects)."""
    height, width = amp.shape
    r0, r1 = max(0, int(np.floor(cy - radius - 1))), min(height, int(np.ceil(cy + radius + 2)))
    c0, c1 = max(0, int(np.floor(cx - radius - 1))), min(width, int(np.ceil(cx + radius + 2)))
    if r0 >= r1 or c0 >= c1:
        return
    dy = (np.arange(r0, r1) - cy)[:, None] * np.ones((1, c1 - c0))
    dx = np.ones((r1 - r0, 1)) * (np.arange(c0, c1) - cx)[None, :]
    value = painter(dy, dx)
    amp[r0:r1, c0:c1] += w_amp * value
    phase[r0:r1, c0:c1] += w_phase * value
