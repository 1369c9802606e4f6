"""Neighbour grouping of scan positions (data spec §2.2).

Produces ``nn_indices`` of shape ``(B, C)`` (``C = gridsize²``): row ``b`` lists the
scan positions whose patterns form group ``b``, in channel order.  Everything is
vectorised: one batched KD-tree query for all seeds and one batched random draw, so
grouping 10⁵ positions takes a fraction of a second.

Randomness: every draw comes from one ``numpy.random.Generator(seed)``; the member
draw in sequential mode uses ``Generator(0)`` so sequential grouping is deterministic.
The global NumPy RNG is never touched.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

logger = logging.getLogger(__name__)

_MAX_COMBINATIONS = 5_000_000


def _check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{name} = {value!r} is invalid; allowed: an integer >= 1"
                         + (" or None" if allow_none else ""))
    return int(value)


def group_indices(
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    *,
    gridsize: int,
    K: int = 4,
    nsamples: int | None = 1,
    seed: int | None = None,
    sequential_sampling: bool = False,
    enable_oversampling: bool = False,
    neighbor_pool_size: int | None = None,
) -> np.ndarray:
    """Group scan positions; returns ``nn_indices`` ``(B, gridsize²)`` int64.

    ``nsamples`` is the number of groups ``B`` wanted (``None`` = one per position).
    See data spec §2.2 for the exact rules; errors:
    ``n < C``, ``K < C`` (C > 1), ``nsamples > n`` with C > 1 and oversampling disabled
    (OVERSAMPLING-001), ``neighbor_pool_size < C`` with oversampling → ``ValueError``.
    """
    x = np.asarray(xcoords, dtype=np.float64).reshape(-1)
    y = np.asarray(ycoords, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"xcoords {np.shape(xcoords)} and ycoords {np.shape(ycoords)} differ in shape")
    gridsize = _check_positive_int("gridsize", gridsize)
    K = _check_positive_int("K (neighbor_count)", K)
    n = int(x.shape[0])
    nsamples = n if nsamples is None else _check_positive_int("nsamples", nsamples)
    pool_size = _check_positive_int("neighbor_pool_size", neighbor_pool_size, allow_none=True)
    c = gridsize * gridsize
    rng = np.random.default_rng(seed)

    if n < c:
        raise ValueError(
            f"cannot form groups of C = gridsize² = {c} from only n = {n} scan positions (need n >= C)"
        )
    if c == 1:
        return _single_channel(n, nsamples, rng, sequential_sampling)
    if K < c:
        raise ValueError(
            f"K (neighbor_count) = {K} is smaller than C = gridsize² = {c}; need K >= C to draw "
            f"{c} distinct neighbours per group"
        )
    points = np.column_stack([x, y])
    if nsamples > n:
        if not enable_oversampling:
            raise ValueError(
                f"nsamples (n_groups) = {nsamples} exceeds the number of scan positions n = {n} with "
                f"gridsize {gridsize} (C = {c}); set enable_oversampling=True (and optionally "
                f"neighbor_pool_size >= C = {c}, default K = {K}) to build more groups than positions, "
                f"or request at most {n} groups (finding OVERSAMPLING-001)"
            )
        pool = K if pool_size is None else pool_size
        if pool < c:
            raise ValueError(
                f"neighbor_pool_size = {pool} is smaller than C = gridsize² = {c}; oversampling needs "
                f"neighbor_pool_size >= C"
            )
        return _oversampled(points, nsamples, c, pool, rng)
    return _standard(points, nsamples, c, K, rng, sequential_sampling)


def _choose_seeds(n: int, nsamples: int, rng: np.random.Generator, sequential: bool) -> np.ndarray:
    if sequential:
        return np.arange(min(nsamples, n), dtype=np.int64)
    if nsamples >= n:
        return np.arange(n, dtype=np.int64)
    return rng.choice(n, size=nsamples, replace=False).astype(np.int64)


def _single_channel(n: int, nsamples: int, rng: np.random.Generator, sequential: bool) -> np.ndarray:
    if nsamples > n:
        logger.warning("gridsize 1: nsamples = %d exceeds the %d scan positions; using all %d",
                       nsamples, n, n)
        nsamples = n
    return _choose_seeds(n, nsamples, rng, sequential)[:, None]


def _standard(points: np.ndarray, nsamples: int, c: int, k: int, rng: np.random.Generator,
              sequential: bool) -> np.ndarray:
    n = points.shape[0]
    seeds = _choose_seeds(n, nsamples, rng, sequential)
    tree = cKDTree(points)
    if n <= k:
        # The query returns every point (seed included); nothing is dropped.
        _, pool = tree.query(points[seeds], k=n)
    else:
        _, pool = tree.query(points[seeds], k=k + 1)
        pool = pool[:, 1:]  # drop the first hit: the seed itself
    pool = np.asarray(pool, dtype=np.int64).reshape(seeds.shape[0], -1)
    if pool.shape[1] < c:
        pool = np.concatenate([seeds[:, None], pool], axis=1)
    member_rng = np.random.default_rng(0) if sequential else rng
    if pool.shape[1] < c:
        picks = member_rng.integers(0, pool.shape[1], size=(pool.shape[0], c))
    else:
        # A random permutation of each row, first C entries: C distinct members drawn
        # uniformly, in draw order (= channel order).
        picks = np.argsort(member_rng.random(pool.shape), axis=1)[:, :c]
    return np.take_along_axis(pool, picks, axis=1)


def _oversampled(points: np.ndarray, nsamples: int, c: int, pool_size: int,
                 rng: np.random.Generator) -> np.ndarray:
    n = points.shape[0]
    neighbours = min(pool_size, n - 1)
    if neighbours < c:
        raise ValueError(
            f"oversampling needs at least C = {c} neighbours per seed (seed excluded) but only "
            f"{neighbours} exist among n = {n} positions"
        )
    n_comb = math.comb(neighbours, c)
    if n_comb > _MAX_COMBINATIONS:
        raise ValueError(
            f"neighbor_pool_size = {pool_size} with C = {c} gives {n_comb} combinations per seed "
            f"(limit {_MAX_COMBINATIONS}); use a smaller neighbor_pool_size"
        )
    n_seeds = min(2 * math.ceil(nsamples / n_comb), n)
    seeds = rng.choice(n, size=n_seeds, replace=False)
    # Stop adding seeds once the pool holds 2·nsamples combinations.
    n_seeds_used = min(n_seeds, math.ceil(2 * nsamples / n_comb))
    seeds = seeds[:n_seeds_used]
    tree = cKDTree(points)
    _, neigh = tree.query(points[seeds], k=neighbours + 1)
    neigh = np.asarray(neigh, dtype=np.int64).reshape(seeds.shape[0], -1)[:, 1:]
    combos = np.array(list(itertools.combinations(range(neighbours), c)), dtype=np.int64)
    pool = neigh[:, combos].reshape(-1, c)
    replace = pool.shape[0] < nsamples
    if replace:
        logger.warning(
            "oversampling: only %d distinct neighbour combinations for %d requested groups; "
            "drawing with replacement", pool.shape[0], nsamples,
        )
    picks = rng.choice(pool.shape[0], size=nsamples, replace=replace)
    logger.info("oversampling: %d groups from %d combinations of %d seeds", nsamples, pool.shape[0],
                seeds.shape[0])
    return pool[picks]
