"""Deterministic seeds for weight initialisation and training (physics §12.2 "Seeds").

Every convolution receives its own integer seed drawn, in construction order, from one
``numpy.random.Generator(seed)``: the initial weights then depend only on
``TrainingConfig.seed`` and on the architecture, never on what else ran in the process
(an initializer seeded with ``None`` draws a fresh random seed instead).
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

logger = logging.getLogger(__name__)

_MAX_SEED = 2**31 - 1


class SeedStream:
    """Hands out one integer seed per initializer, in a reproducible order.

    ``SeedStream(None)`` yields ``None`` for every request, which makes Keras pick an
    unpredictable seed (the unseeded behaviour).
    """

    def __init__(self, seed: Optional[int]) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an integer or None; got {seed!r}")
        self._rng = None if seed is None else np.random.default_rng(int(seed))

    def next(self) -> Optional[int]:
        """The next seed (``None`` when the stream is unseeded)."""
        if self._rng is None:
            return None
        return int(self._rng.integers(0, _MAX_SEED))


def seed_framework(seed: Optional[int]) -> None:
    """Seed Python, NumPy's legacy global RNG, TensorFlow and Keras' global generator.

    Our own code never draws from these global generators (weights use
    :class:`SeedStream`, shuffling uses explicit ``tf.data`` seeds); seeding them as well
    covers any framework-internal randomness so a seeded run is reproducible.
    """
    if seed is None:
        return
    import keras

    keras.utils.set_random_seed(int(seed))
    logger.debug("seeded python/numpy/tensorflow/keras RNGs with %d", seed)
