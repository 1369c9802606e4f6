"""Live preview: predict + stitch a held-out subset with the model being trained.

The subset is the ``n`` scan positions nearest the scan centre of the preview dataset
(the test data when given — a different object, so truly held out — else the training
data).  It is grouped once, one group per position, and stitched with the library's
streaming stitcher; one preview costs a forward pass over ``n`` groups.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.config import TrainingConfig
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container
from ptychopinn_plugin.workflows.predictor import InferencePredictor
from ptychopinn_plugin.workflows.stitching import StitchOutcome, stitch_container

from ptychopinn_gui.worker.model_capture import CapturedModels

logger = logging.getLogger(__name__)

__all__ = ["PreviewMaker", "central_indices"]


def central_indices(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Indices (sorted) of the ``n`` positions nearest the scan centroid."""
    d2 = (np.asarray(x) - np.mean(x)) ** 2 + (np.asarray(y) - np.mean(y)) ** 2
    n = max(1, min(int(n), d2.size))
    return np.sort(np.argsort(d2, kind="stable")[:n])


class PreviewMaker:
    def __init__(self, raw: Any, config: TrainingConfig, ops: Any, captured: CapturedModels, *,
                 n_positions: int = 48, stitch_crop_size: int = 20, batch_size: int = 32) -> None:
        self.config = config
        self.ops = ops
        self.captured = captured
        self.M = int(stitch_crop_size)
        self.batch_size = int(batch_size)
        self.scale = closed_form_scale(config.nphotons, config.model.N)
        subset = raw.select(central_indices(raw.xcoords, raw.ycoords, n_positions))
        self.container = create_ptycho_data_container(subset, config, n_groups=None, seed=0)
        self.failed = False

    def render(self) -> Optional[StitchOutcome]:
        """The stitched preview, or None when the model is not reachable or prediction failed."""
        if self.failed or not self.captured.available:
            return None
        try:
            predictor = InferencePredictor(self.captured.diffraction_to_obj, self.ops, self.config.model, self.scale,
                                           self.batch_size)
            return stitch_container(self.container, predictor=predictor, M=self.M)
        except Exception as exc:  # noqa: BLE001 - a preview must never break training
            self.failed = True
            logger.warning("live preview disabled: %s: %s", type(exc).__name__, exc)
            return None
