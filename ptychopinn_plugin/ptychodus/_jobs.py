"""What the parent sends to a child process: plain, picklable job descriptions.

Only our configuration dataclasses, paths, strings, numbers and NumPy arrays — no
Ptychodus object crosses the process boundary, so the child never imports Ptychodus and
the parent never depends on a framework type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ptychopinn_plugin.config import InferenceConfig, PyTorchExecutionConfig, TrainingConfig

__all__ = ["ReconstructJob", "TrainJob", "TRAIN_FILE", "TEST_FILE",
           "TAG_EPOCH", "TAG_TRAINED", "TAG_RECONSTRUCTED"]

TRAIN_FILE = "train_data.npz"
TEST_FILE = "test_data.npz"

TAG_EPOCH = "epoch"
"""``('epoch', epoch_index, nepochs, {loss name: value})`` after every finished epoch."""
TAG_TRAINED = "trained"
"""``('trained', archive_path, completed, history)`` once the archive is written."""
TAG_RECONSTRUCTED = "reconstructed"
"""``('reconstructed', image (P, P) complex64, (com_x, com_y), n_groups)``."""


@dataclass(frozen=True)
class TrainJob:
    """One training run (api spec §5.2 ``train``)."""

    training_config: TrainingConfig
    """Built from the settings; ``model.N`` is 0 — the child sets it from the data."""
    input_dir: Path
    """Directory holding ``train_data.npz`` and ``test_data.npz`` (data §5.1)."""
    output_dir: Path
    """Receives ``wts.h5.zip``, ``history.json``, PNGs and ``reconstruction.npz``."""
    diffraction_domain: str
    """Domain of training files that do not record one in ``_metadata`` (data §1.4)."""
    nphotons_from_data: bool
    """Use the photon count recorded in the training file's metadata, when there is one."""
    stitch_crop_size: int = 20
    execution_config: Optional[PyTorchExecutionConfig] = None


@dataclass(frozen=True)
class ReconstructJob:
    """One reconstruction (api spec §5.2 ``reconstruct``, steps 5–7)."""

    archive: Path
    """The loaded model: ``wts.h5.zip``, a directory holding it, or an outer zip."""
    inference_config: InferenceConfig
    """Its ``model`` is the archive's ``ModelConfig`` (the loaded model's gridsize governs)."""
    arrays: dict[str, Any] = field(default_factory=dict)
    """Canonical dataset arrays (amplitude ``diff3d``, coordinates, probe, objectGuess …)."""
    batch_size: int = 32
    device: Optional[str] = None
    """Accelerator for the PyTorch backend ('auto', 'cpu', 'cuda' …); ignored by TensorFlow."""
