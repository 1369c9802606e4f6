"""Position subsampling before grouping (data spec §2.1, last bullet).

The original seeded the global NumPy RNG and wrote ``tmp/…indices.txt`` into the
working directory; here a private ``numpy.random.Generator(subsample_seed)`` is used,
nothing is written, and the chosen indices travel in ``RawData.sample_indices``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ptychopinn_plugin.data.raw_data import RawData

logger = logging.getLogger(__name__)


def subsample_indices(n_total: int, n_subsample: int | None, seed: int | None = None) -> np.ndarray:
    """Sorted int64 indices: ``n_subsample`` of ``range(n_total)`` drawn without replacement.

    ``None`` or ``n_subsample >= n_total`` selects everything (the latter with a WARNING).
    """
    if isinstance(n_total, bool) or int(n_total) < 0:
        raise ValueError(f"n_total = {n_total!r} must be >= 0")
    n_total = int(n_total)
    if n_subsample is None:
        return np.arange(n_total, dtype=np.int64)
    if isinstance(n_subsample, bool) or not isinstance(n_subsample, (int, np.integer)) or n_subsample < 1:
        raise ValueError(f"n_subsample = {n_subsample!r} is invalid; allowed: an integer >= 1 or None")
    if n_subsample >= n_total:
        if n_subsample > n_total:
            logger.warning("n_subsample = %d exceeds the %d positions; using all of them", n_subsample, n_total)
        return np.arange(n_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=int(n_subsample), replace=False)).astype(np.int64)


def subsample_raw_data(raw: "RawData", n_subsample: int | None, subsample_seed: int | None = None) -> "RawData":
    """``raw`` restricted to a seeded random subset; sets ``sample_indices``.

    With ``n_subsample=None`` the input object is returned unchanged.
    """
    if n_subsample is None:
        return raw
    idx = subsample_indices(len(raw), n_subsample, subsample_seed)
    logger.info("subsampled %d of %d positions (seed %s)", idx.shape[0], len(raw), subsample_seed)
    return raw.select(idx)
