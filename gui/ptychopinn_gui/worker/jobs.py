"""Job descriptions sent to the worker (picklable dataclasses; data travel as file paths)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Optional

from ptychopinn_plugin.config import PyTorchExecutionConfig, TrainingConfig

__all__ = ["Job", "TrainJob", "InferJob", "ProbeJob", "next_job_id"]

_ids = itertools.count(1)


def next_job_id(kind: str) -> str:
    return f"{kind}-{next(_ids)}"


@dataclass
class Job:
    job_id: str

    @property
    def kind(self) -> str:
        return type(self).__name__.removesuffix("Job").lower()

    @property
    def backend(self) -> Optional[str]:
        return None


@dataclass
class TrainJob(Job):
    config: TrainingConfig
    train_file: str
    train_domain: str = "amplitude"
    test_file: Optional[str] = None
    test_domain: str = "amplitude"
    execution: Optional[PyTorchExecutionConfig] = None
    run_dir: str = "."
    preview_every: int = 5
    """Send a preview every this many epochs (0 = only at the end)."""
    preview_positions: int = 48
    """Scan positions (nearest the scan centre) stitched for the preview."""
    stitch_crop_size: int = 20
    evaluate: bool = True

    @property
    def backend(self) -> Optional[str]:
        return self.config.backend


@dataclass
class InferJob(Job):
    archive: str
    data_file: str
    data_domain: str = "amplitude"
    inference: dict[str, Any] = field(default_factory=dict)
    """InferenceConfig fields (n_groups, stitch_crop_size, …)."""
    archive_backend: Optional[str] = None
    evaluate: bool = True
    label: str = "inference"

    @property
    def backend(self) -> Optional[str]:
        return self.archive_backend


@dataclass
class ProbeJob(Job):
    """Import a backend and report its device (warms the worker up)."""

    backend_name: str = "tensorflow"
    execution: Optional[PyTorchExecutionConfig] = None

    @property
    def backend(self) -> Optional[str]:
        return self.backend_name
