"""Fixtures for the data-layer tests: small synthetic datasets written with plain np.savez."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest


def _base_arrays(m: int = 12, n: int = 16, seed: int = 0, with_object: bool = True) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    side = 3 * n
    arrays: dict[str, Any] = {
        "diffraction": rng.uniform(0.1, 2.0, size=(m, n, n)).astype(np.float32),
        "xcoords": rng.uniform(n / 2, side - n / 2, size=m),
        "ycoords": rng.uniform(n / 2, side - n / 2, size=m),
        "probeGuess": (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))).astype(np.complex64),
    }
    if with_object:
        arrays["objectGuess"] = (rng.uniform(0.5, 1.0, (side, side))
                                 * np.exp(1j * rng.uniform(-1, 1, (side, side)))).astype(np.complex64)
    return arrays


@pytest.fixture
def base_arrays() -> Callable[..., dict[str, Any]]:
    """Factory: canonical arrays of a small dataset (M=12, N=16 by default)."""
    return _base_arrays


@pytest.fixture
def write_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write the given arrays with raw ``np.savez`` (bad inputs included)."""
    counter = {"i": 0}

    def _write(arrays: dict[str, Any], name: str | None = None) -> Path:
        counter["i"] += 1
        path = tmp_path / (name or f"dataset_{counter['i']}.npz")
        np.savez(path, **arrays)
        return path

    return _write
