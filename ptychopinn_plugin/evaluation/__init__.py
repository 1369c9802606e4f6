"""Reconstruction quality metrics (physics spec §11); NumPy/SciPy/scikit-image only.

Entry point: :func:`eval_reconstruction`; files: :func:`write_metrics`,
:func:`read_metrics_json`.  Building blocks live in small modules: ``alignment``
(amplitude scaling, phase alignment), ``registration``, ``ssim`` (SSIM, MS-SSIM),
``frc`` (Fourier ring correlation), ``report`` (metrics.json / metrics.csv).
"""

from ptychopinn_plugin.evaluation.metrics import METRIC_NAMES, eval_reconstruction
from ptychopinn_plugin.evaluation.report import metrics_to_jsonable, read_metrics_json, write_metrics

__all__ = [
    "METRIC_NAMES",
    "eval_reconstruction",
    "metrics_to_jsonable",
    "read_metrics_json",
    "write_metrics",
]
