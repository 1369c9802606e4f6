"""Scan positions: a raster with small random jitter inside the allowed region (physics §13).

Positions are object-pixel coordinates (x = column, y = row) of the patch centre
pixel (N/2, N/2) (physics §2.1).  The raster is laid out on
``[low + jitter, high − jitter]`` so that after adding a uniform offset in
``[−jitter, jitter]`` every position stays inside ``[low, high] = [N/2 + margin,
size − N/2 − margin]``: the patch then never leaves the object.
"""

from __future__ import annotations

import math

import numpy as np


def raster_positions(
    object_size: int,
    N: int,
    rng: np.random.Generator,
    *,
    n_positions: int | None = None,
    scan_step: float | None = None,
    margin: int = 4,
    jitter: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(xcoords, ycoords)`` float64, row-major raster order, jittered.

    Exactly one of ``n_positions`` and ``scan_step`` must be given:

    * ``n_positions``: ``cols = ceil(sqrt(n))`` columns and ``rows = ceil(n / cols)``
      rows spread evenly over the region; the first ``n`` raster points are used (the
      last row may be partial).
    * ``scan_step``: a square lattice with that step starting at the low corner.
    """
    if (n_positions is None) == (scan_step is None):
        raise ValueError(
            f"give exactly one of n_positions ({n_positions!r}) and scan_step ({scan_step!r})"
        )
    low = N / 2 + margin + jitter
    high = object_size - N / 2 - margin - jitter
    if high < low:
        raise ValueError(
            f"object of {object_size} px leaves no room to scan an N = {N} probe with margin "
            f"{margin} and jitter {jitter}"
        )
    if n_positions is not None:
        if n_positions < 1:
            raise ValueError(f"n_positions must be >= 1; got {n_positions}")
        cols = math.ceil(math.sqrt(n_positions))
        rows = math.ceil(n_positions / cols)
        ys = _spread(low, high, rows)
        xs = _spread(low, high, cols)
    else:
        assert scan_step is not None
        if scan_step <= 0:
            raise ValueError(f"scan_step must be > 0; got {scan_step}")
        count = int(math.floor((high - low) / scan_step + 1e-9)) + 1
        ys = xs = low + scan_step * np.arange(count)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    x = grid_x.reshape(-1)
    y = grid_y.reshape(-1)
    if n_positions is not None:
        x, y = x[:n_positions], y[:n_positions]
    if jitter > 0:
        x = x + rng.uniform(-jitter, jitter, size=x.shape)
        y = y + rng.uniform(-jitter, jitter, size=y.shape)
    return x.astype(np.float64), y.astype(np.float64)


def _spread(low: float, high: float, count: int) -> np.ndarray:
    """``count`` evenly spaced values on [low, high] (the centre when count == 1)."""
    if count == 1:
        return np.array([(low + high) / 2])
    return np.linspace(low, high, count)
