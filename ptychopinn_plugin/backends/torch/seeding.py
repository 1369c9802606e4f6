"""Deterministic seeds for weight initialisation and training (physics §12.2 "Seeds").

Weights are drawn from an explicit ``torch.Generator`` (see :mod:`.network`), so the
initial model depends only on ``TrainingConfig.seed`` and the architecture, never on
what else ran in the process.  :func:`seed_everything` additionally seeds Python,
NumPy's legacy global RNG and torch for framework-internal randomness, like the TF
backend's ``seed_framework``.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np
import torch

logger = logging.getLogger(__name__)

__all__ = ["make_generator", "seed_everything", "check_seed"]


def check_seed(seed: Optional[int]) -> Optional[int]:
    """``seed`` as a Python int (None stays None); anything else → ``ValueError``."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer or None; got {seed!r}")
    return int(seed)


def make_generator(seed: Optional[int]) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (a fresh random seed when None)."""
    seed = check_seed(seed)
    gen = torch.Generator()
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy's global RNG and torch (all devices) with ``seed``."""
    from lightning.pytorch import seed_everything as _seed

    _seed(check_seed(seed), workers=True, verbose=False)
    logger.debug("seeded python/numpy/torch RNGs with %d", seed)
