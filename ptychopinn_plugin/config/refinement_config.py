"""``RefinementConfig``: optional physics refinement of a network reconstruction (issue #13).

Refinement optimises the stitched object directly through the model's far-field forward
model and the (variance-stabilised) Poisson likelihood, starting from the network's
output; probe and positions stay fixed.  ``iterations = 0`` (the default) turns it off: inference then behaves
exactly as without this option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ptychopinn_plugin.config._checks import check_float, check_int

DEFAULT_REFINE_STEP_SIZE = 1.0
"""The full Fisher-scoring step (measured: benchmarks/bench_refine.py, docs/consistency.md)."""


@dataclass
class RefinementConfig:
    """How many refinement iterations to run after the network, and how large each step is."""

    iterations: int = 0
    """Full-batch gradient steps on the object (0 = off)."""
    step_size: float = DEFAULT_REFINE_STEP_SIZE
    """Fraction of the Fisher-scoring step (1 = full step; above 2 the iteration diverges)."""
    momentum: float = 0.9
    """Heavy-ball momentum of the steps (0 = none)."""
    chunk: int = 512
    """Scan positions per forward/backward pass (bounds memory; the step stays full batch)."""
    threads: Optional[int] = None
    """CPU threads for the refinement (None: the framework's default)."""

    def __post_init__(self) -> None:
        validate_refinement_config(self)

    @property
    def enabled(self) -> bool:
        return self.iterations > 0


def validate_refinement_config(cfg: RefinementConfig) -> None:
    owner = "RefinementConfig"
    check_int(owner, "iterations", cfg.iterations, minimum=0)
    check_float(owner, "step_size", cfg.step_size, exclusive_minimum=0.0, maximum=2.0)
    check_float(owner, "momentum", cfg.momentum, minimum=0.0, maximum=0.99)
    check_int(owner, "chunk", cfg.chunk, minimum=1)
    check_int(owner, "threads", cfg.threads, minimum=1, allow_none=True)
