"""Scoring a stitched reconstruction against ground truth, with files (physics §11).

Used by ``ptychopinn-infer --comparison_plot`` and ``ptychopinn-evaluate --model-dir``:
``metrics.json``/``metrics.csv`` (evaluation layer) plus ``comparison.png`` showing the
reconstruction and the ground truth cropped to the same canvas footprint.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.evaluation import eval_reconstruction, write_metrics
from ptychopinn_plugin.evaluation.registration import footprint_crop
from ptychopinn_plugin.workflows.plots import save_comparison_png

logger = logging.getLogger(__name__)

__all__ = ["COMPARISON_PNG_NAME", "write_comparison"]

COMPARISON_PNG_NAME = "comparison.png"


def write_comparison(outcome: Any, object_guess: np.ndarray, output_dir: str | Path, info: Mapping[str, Any],
                     **eval_options: Any) -> dict[str, Any]:
    """Metrics of ``outcome`` (a ``StitchOutcome``) against ``object_guess``; writes
    ``metrics.json``, ``metrics.csv`` and ``comparison.png`` in ``output_dir``.

    ``eval_options`` go to ``eval_reconstruction`` (``register``, ``phase_align_method``,
    ``eval_border``, ``frc_sigma``); the canvas centre of mass comes from the outcome.
    """
    output_dir = Path(output_dir)
    com = outcome.geometry.com_xy
    metrics = eval_reconstruction(outcome.object, object_guess, canvas_com=com, **eval_options)
    write_metrics(metrics, output_dir, info={**dict(info), "canvas_com": list(com)})
    recon, truth = footprint_crop(outcome.object, np.asarray(object_guess), com)
    save_comparison_png(recon, truth, output_dir / COMPARISON_PNG_NAME,
                        title=f"SSIM amplitude {metrics['ssim'][0]:.3f}, phase {metrics['ssim'][1]:.3f}")
    return metrics
