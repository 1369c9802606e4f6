"""Summary of a model archive for the Models panel, without importing a framework.

Uses :func:`ptychopinn_plugin.archive.read_manifest_only`, which validates the archive
(safety, manifest, checksums, params, probe) with JSON/NumPy only — the GUI process must
never import TensorFlow or torch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ptychopinn_plugin.archive import ArchiveInfo, read_manifest_only

logger = logging.getLogger(__name__)

__all__ = ["ModelSummary", "summarise_archive"]


@dataclass(frozen=True)
class ModelSummary:
    path: Path
    backend: str
    N: int
    gridsize: int
    model_type: str
    completed: bool
    created_utc: str
    ptychopinn_version: str
    framework_versions: dict[str, str]
    history: Optional[dict[str, list[float]]]
    reproducibility: Optional[dict[str, Any]]
    intensity_scale: float
    training: dict[str, Any]
    manifest_sha256: str
    archive_sha256: Optional[str]

    @property
    def epochs_trained(self) -> int:
        return len((self.history or {}).get("loss", []))

    def rows(self) -> list[tuple[str, str]]:
        losses = (self.history or {}).get("loss", [])
        val = (self.history or {}).get("val_loss", [])
        rows = [
            ("Archive", str(self.path)),
            ("Backend", self.backend),
            ("N", str(self.N)),
            ("gridsize", str(self.gridsize)),
            ("Model type", self.model_type),
            ("Training completed", "yes" if self.completed else "no (stopped early)"),
            ("Epochs trained", str(self.epochs_trained)),
            ("Final loss", f"{losses[-1]:.6g}" if losses else "n/a"),
            ("Final val_loss", f"{val[-1]:.6g}" if val else "n/a"),
            ("Intensity scale s", f"{self.intensity_scale:.6g}"),
            ("Created (UTC)", self.created_utc),
            ("ptychopinn", self.ptychopinn_version),
            ("Frameworks", ", ".join(f"{k} {v}" for k, v in sorted(self.framework_versions.items()))),
        ]
        for key in ("nepochs", "batch_size", "n_groups", "nphotons", "seed"):
            if key in self.training:
                rows.append((f"training.{key}", str(self.training[key])))
        if self.reproducibility:
            for key, value in sorted(self.reproducibility.items()):
                rows.append((f"reproducibility.{key}", _short(value)))
        rows.append(("manifest sha256", self.manifest_sha256))
        return rows


def _short(value: Any, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_from_info(info: ArchiveInfo) -> ModelSummary:
    manifest = info.manifest
    training = {}
    if info.training_config is not None:
        tc = info.training_config
        training = {"nepochs": tc.nepochs, "batch_size": tc.batch_size, "n_groups": tc.n_groups,
                    "nphotons": tc.nphotons, "seed": tc.seed}
    return ModelSummary(
        path=Path(info.path),
        backend=info.backend,
        N=info.N,
        gridsize=info.gridsize,
        model_type=info.model_type,
        completed=bool(info.completed),
        created_utc=str(manifest.get("created_utc", "")),
        ptychopinn_version=str(manifest.get("ptychopinn_version", "")),
        framework_versions={str(k): str(v) for k, v in (manifest.get("framework_versions") or {}).items()},
        history=info.history,
        reproducibility=info.reproducibility,
        intensity_scale=float(info.intensity_scale),
        training=training,
        manifest_sha256=info.manifest_sha256,
        archive_sha256=info.archive_sha256,
    )


def summarise_archive(path: str | os.PathLike[str]) -> ModelSummary:
    """Validate ``path`` (file, directory or unpacked archive) and summarise it."""
    info = read_manifest_only(path)
    summary = summary_from_info(info)
    logger.info("model archive %s: %s, N = %d, gridsize = %d", summary.path, summary.backend, summary.N,
                summary.gridsize)
    return summary
