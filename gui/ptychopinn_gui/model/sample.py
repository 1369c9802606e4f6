"""The built-in sample: a small simulated train/test pair (``--sample``).

Written with :func:`ptychopinn_plugin.simulation.simulate_train_test` into the cache
directory and reused when the files exist and were made with the same parameters (the
simulation is deterministic by seed; the parameters are recorded in each file's
``_metadata``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test
from ptychopinn_plugin.simulation.dataset import TEST_FILE, TRAIN_FILE

from ptychopinn_gui.model.paths import cache_dir

logger = logging.getLogger(__name__)

__all__ = ["SAMPLE_CONFIG", "prepare_sample"]

SAMPLE_CONFIG = SimulationConfig()
"""The simulator's demo defaults: N = 64, 256 positions, 196-pixel object, seed 0."""


def _recorded_parameters(path: Path) -> Optional[dict]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["_metadata"][()]))
        return meta.get("creation_info", {}).get("parameters")
    except Exception:  # noqa: BLE001 - any unreadable file is simply regenerated
        return None


def prepare_sample(directory: Optional[str | os.PathLike[str]] = None,
                   config: SimulationConfig = SAMPLE_CONFIG) -> tuple[Path, Path]:
    """``(train_data.npz, test_data.npz)`` of the sample, simulated if needed."""
    out = Path(directory) if directory is not None else cache_dir() / "sample" / f"N{config.N}-seed{config.seed}"
    train, test = out / TRAIN_FILE, out / TEST_FILE
    wanted = config.to_dict()
    if train.is_file() and test.is_file() and _recorded_parameters(train) == wanted \
            and _recorded_parameters(test) == wanted:
        logger.info("using the cached sample in %s", out)
        return train, test
    logger.info("simulating the built-in sample into %s", out)
    return simulate_train_test(config, out)
