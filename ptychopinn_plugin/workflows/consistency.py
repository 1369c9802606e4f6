"""Data-consistency maps and physics refinement of reconstructions (issue #13).

:func:`check_consistency` re-extracts the stitched object (the object actually shown)
at every scan position and compares the pattern the forward model predicts with the
measured one (:mod:`ptychopinn_plugin.physics.consistency`).  :func:`refine_reconstruction`
then optionally optimises that object through the same physics (PyTorch autograd,
``backends/torch/refine.py``), starting from the network's output, and reports the map
before and after.  The refined object keeps the stitched canvas's frame, so everything
downstream (PNGs, ``reconstruction.npz``, products, comparisons) is unchanged.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ptychopinn_plugin.config import ModelConfig, RefinementConfig
from ptychopinn_plugin.physics.consistency import ConsistencyMap, data_consistency, measured_counts
from ptychopinn_plugin.workflows.stitching import StitchOutcome

logger = logging.getLogger(__name__)

__all__ = ["ScanPatterns", "ForwardSetup", "RefinedReconstruction", "scan_patterns", "check_consistency",
           "consistency_line", "refine_reconstruction", "flat_outcome_like"]

ILLUMINATION_THRESHOLD = 1e-3
"""Refined pixels whose summed probe intensity is below this fraction of the brightest
pixel's stay blank (0), as pixels outside every crop are blank in a stitched canvas: the
data say nothing about them."""


@dataclass(frozen=True)
class ScanPatterns:
    """The measured patterns a reconstruction is checked against: one per scan position."""

    x: np.ndarray
    """Scan positions, object pixels (float64 ``(K,)``)."""
    y: np.ndarray
    diffraction: np.ndarray
    """Canonical amplitudes ``(K, N, N)`` (sqrt of counts)."""

    def __post_init__(self) -> None:
        if self.diffraction.ndim != 3 or self.x.shape != self.y.shape or self.x.shape[0] != self.diffraction.shape[0]:
            raise ValueError(f"need one pattern per scan position: x {self.x.shape}, y {self.y.shape}, "
                             f"diffraction {self.diffraction.shape}")


@dataclass(frozen=True)
class ForwardSetup:
    """The forward model the reconstruction is judged with: the model's own probe and settings."""

    probe: np.ndarray
    """Complex ``(N, N)`` probe the object was reconstructed with (scale irrelevant)."""
    gaussian_smoothing_sigma: float = 0.0
    probe_mask: bool = False
    photons_per_pattern: Optional[float] = None
    """Count domain of the Poisson likelihood (the model's ``nphotons``); None: the data as counts."""

    @classmethod
    def of_model(cls, model_config: ModelConfig, probe: np.ndarray,
                 photons_per_pattern: Optional[float] = None) -> "ForwardSetup":
        return cls(probe=np.asarray(probe), gaussian_smoothing_sigma=float(model_config.gaussian_smoothing_sigma),
                   probe_mask=bool(model_config.probe_mask), photons_per_pattern=photons_per_pattern)

    @classmethod
    def of_archive(cls, loaded: Any) -> "ForwardSetup":
        """The forward model of a loaded archive: its probe, model settings and training ``nphotons``."""
        training = loaded.training_config
        return cls.of_model(loaded.model_config, loaded.probe, training.nphotons if training is not None else None)


def scan_patterns(data: Any) -> ScanPatterns:
    """The positions and patterns of a :class:`~ptychopinn_plugin.data.RawData` (every position)."""
    diffraction = getattr(data, "diff3d", None)
    if diffraction is None:
        raise ValueError("the dataset has no diffraction patterns; a data-consistency map needs them")
    return ScanPatterns(x=np.asarray(data.xcoords, dtype=np.float64), y=np.asarray(data.ycoords, dtype=np.float64),
                        diffraction=np.asarray(diffraction))


def check_consistency(obj: np.ndarray, origin_xy: tuple[float, float], patterns: ScanPatterns,
                      forward: ForwardSetup) -> ConsistencyMap:
    """The per-position misfit map of ``obj`` (2-D complex, pixel ``(0, 0)`` at ``origin_xy``)."""
    return data_consistency(obj, origin_xy, patterns.x, patterns.y, patterns.diffraction, forward.probe,
                            gaussian_smoothing_sigma=forward.gaussian_smoothing_sigma, probe_mask=forward.probe_mask,
                            photons_per_pattern=forward.photons_per_pattern)


@dataclass
class RefinedReconstruction:
    """A reconstruction after optional refinement, with its misfit before and after."""

    outcome: StitchOutcome
    """The stitched (and, with iterations > 0, refined) object on the stitched canvas."""
    before: ConsistencyMap
    after: Optional[ConsistencyMap]
    """None when no refinement ran."""
    iterations_done: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    losses: list[float] = dataclasses.field(default_factory=list)

    @property
    def final(self) -> ConsistencyMap:
        return self.after if self.after is not None else self.before

    def misfit_arrays(self) -> dict[str, np.ndarray]:
        """``misfit_*`` of the object kept; after a refinement also ``network_misfit_*``."""
        arrays = dict(self.final.arrays("misfit_"))
        if self.after is not None:
            arrays.update(self.before.arrays("network_misfit_"))
        return arrays

    def summary(self) -> dict[str, Any]:
        """For metrics.json and logs: the map's summary before (and after) refinement."""
        doc: dict[str, Any] = {"before_refinement" if self.after is not None else "network": self.before.summary()}
        if self.after is not None:
            doc["after_refinement"] = self.after.summary()
            doc["refinement"] = {"iterations": self.iterations_done, "stopped_early": self.stopped_early,
                                 "seconds": round(self.seconds, 3)}
        return doc


def consistency_line(label: str, summary: dict[str, float]) -> str:
    """One line of a misfit summary (:meth:`ConsistencyMap.summary`) for the console and logs."""
    return (f"data consistency ({label}): R-factor median {summary['r_factor_median']:.4f} "
            f"(worst {summary['r_factor_max']:.4f}); Poisson deviance {summary['deviance_ratio_median']:.3g}x "
            f"the noise level (median; worst {summary['deviance_ratio_max']:.3g}x) over "
            f"{int(summary['positions'])} positions")


def _frame_padding(origin_xy: tuple[float, float], shape: tuple[int, int], patterns: ScanPatterns, n: int) -> int:
    """Margin that lets every N×N window lie inside the refinement frame (one spare pixel)."""
    col = patterns.x - origin_xy[0]
    row = patterns.y - origin_xy[1]
    need = max(0.0, float(-(col.min() - n / 2)), float(-(row.min() - n / 2)),
               float(col.max() + n / 2 + 2 - shape[1]), float(row.max() + n / 2 + 2 - shape[0]))
    return int(math.ceil(need))


def illumination_map(shape: tuple[int, int], origin_xy: tuple[float, float], patterns: ScanPatterns,
                     probe: np.ndarray) -> np.ndarray:
    """Summed probe intensity ``Σ_k |P|²`` placed at the (rounded) positions, float64 ``shape``."""
    n = probe.shape[0]
    intensity = np.abs(probe) ** 2
    total = np.zeros((shape[0] + 2 * n, shape[1] + 2 * n))
    cols = np.rint(patterns.x - origin_xy[0]).astype(np.int64) - n // 2 + n
    rows = np.rint(patterns.y - origin_xy[1]).astype(np.int64) - n // 2 + n
    for r, c in zip(rows, cols):
        if 0 <= r <= total.shape[0] - n and 0 <= c <= total.shape[1] - n:
            total[r:r + n, c:c + n] += intensity
    return total[n:n + shape[0], n:n + shape[1]]


def _import_refiner() -> Any:
    """The autograd refinement (PyTorch only; not Lightning): a clear error without it."""
    from ptychopinn_plugin.workflows.backend_ops import TORCH_INSTALL_HINT

    try:
        return importlib.import_module("ptychopinn_plugin.backends.torch.refine")
    except ImportError as exc:
        raise RuntimeError(f"refinement needs PyTorch, which cannot be imported ({exc}). Install it with "
                           f"{TORCH_INSTALL_HINT}, or run with refinement iterations = 0") from exc


def refine_reconstruction(outcome: StitchOutcome, patterns: ScanPatterns, forward: ForwardSetup,
                          config: RefinementConfig, *,
                          progress: Optional[Callable[[int, float], bool]] = None,
                          snapshot: Optional[Callable[[int, float, StitchOutcome], None]] = None,
                          snapshot_every: int = 0) -> RefinedReconstruction:
    """Misfit map of ``outcome``; with ``config.iterations > 0`` also refine and map again.

    ``progress(iteration, loss)`` is called after every refinement step; returning False
    stops and keeps the object reached.  ``iterations = 0`` returns ``outcome`` unchanged.
    ``snapshot(iteration, seconds, outcome)`` receives the object on the canvas every
    ``snapshot_every`` iterations (refinement seconds, the callback's time excluded).
    """
    origin = outcome.geometry.origin_xy
    before = check_consistency(outcome.object, origin, patterns, forward)
    if not config.enabled:
        return RefinedReconstruction(outcome=outcome, before=before, after=None)
    refiner = _import_refiner()
    canvas = outcome.object
    n = int(forward.probe.shape[0])
    pad = _frame_padding(origin, canvas.shape, patterns, n)
    covered = np.abs(canvas) > 0
    fill = canvas[covered].mean() if covered.any() else np.complex64(1.0)
    frame = np.pad(canvas, pad, constant_values=0).astype(np.complex64)
    frame[np.pad(~covered, pad, constant_values=True)] = fill
    frame_origin = (origin[0] - pad, origin[1] - pad)
    settings = refiner.RefineSettings(iterations=config.iterations, step_size=config.step_size, chunk=config.chunk,
                                      momentum=config.momentum,
                                      gaussian_smoothing_sigma=forward.gaussian_smoothing_sigma,
                                      probe_mask=forward.probe_mask, threads=config.threads)
    counts = measured_counts(patterns.diffraction, forward.photons_per_pattern)
    lit = illumination_map(canvas.shape, origin, patterns, np.asarray(forward.probe))
    unlit = lit < ILLUMINATION_THRESHOLD * float(lit.max() or 1.0)

    def on_canvas(frame_now: np.ndarray) -> StitchOutcome:
        refined = frame_now[pad:pad + canvas.shape[0], pad:pad + canvas.shape[1]].copy()
        refined[unlit] = 0
        return dataclasses.replace(outcome, image=refined[..., None].astype(np.complex64), patches=None)

    frame_snapshot = None
    if snapshot is not None:
        def frame_snapshot(iteration: int, seconds: float, frame_now: np.ndarray) -> None:
            snapshot(iteration, seconds, on_canvas(frame_now))

    result = refiner.refine_object(frame, frame_origin, patterns.x, patterns.y, counts, forward.probe, before.gain,
                                   settings, progress=progress, snapshot=frame_snapshot, snapshot_every=snapshot_every)
    refined_outcome = on_canvas(result.obj)
    refined = refined_outcome.object
    after = check_consistency(refined, origin, patterns, forward)
    first, last = before.summary(), after.summary()
    logger.info("refinement: R-factor median %.4f → %.4f, deviance mean %.4g → %.4g (%d iterations, %.1f s)",
                first["r_factor_median"], last["r_factor_median"], first["deviance_mean"], last["deviance_mean"],
                result.iterations_done, result.seconds)
    return RefinedReconstruction(outcome=refined_outcome, before=before, after=after,
                                 iterations_done=result.iterations_done, stopped_early=result.stopped_early,
                                 seconds=result.seconds, losses=list(result.losses))


def flat_outcome_like(outcome: StitchOutcome, value: complex = 1.0) -> StitchOutcome:
    """``outcome`` with a constant object on its canvas (the flat start of a refinement benchmark)."""
    image = np.full_like(outcome.image, np.complex64(value))
    return dataclasses.replace(outcome, image=image, patches=None)
