"""``RefinementConfig``: optional physics refinement of a network reconstruction (issue #13).

Refinement optimises the stitched object directly through the model's far-field forward
model and Poisson likelihood, starting from the network's output; probe and positions
stay fixed.  ``iterations = 0`` (the default) turns it off: inference then behaves
exactly as without this option.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ptychopinn_plugin.config._checks import check_float, check_int

DEFAULT_REFINE_STEP_SIZE = 0.05
"""Adam step relative to the starting object's RMS amplitude (measured: benchmarks/bench_refine.py)."""


@dataclass
class RefinementConfig:
    """How many refinement iterations to run after the network, and how large each step is."""

    iterations: int = 0
    """Full-batch gradient steps on the object (0 = off)."""
    step_size: float = DEFAULT_REFINE_STEP_SIZE
    """Adam learning rate as a fraction of the starting object's RMS amplitude."""
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
    check_float(owner, "step_size", cfg.step_size, exclusive_minimum=0.0, maximum=10.0)
    check_int(owner, "chunk", cfg.chunk, minimum=1)
    check_int(owner, "threads", cfg.threads, minimum=1, allow_none=True)
