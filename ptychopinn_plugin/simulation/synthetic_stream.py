"""Endless synthetic training groups through the user's own probe and scan geometry.

Why: a PINN trained on one measured scan sees one object; it memorises it long before it
learns the diffraction → object map that carries over to the next sample (docs/benchmarks.md,
"Quality analysis").  Simulation costs nothing: this stream draws fresh procedural objects
(feature-rich, lines, smooth random fields), places groups on them with the *same* member
offsets as the user's data, and computes their diffraction through the *same* probe at
the same dose (physics §13), so a network pretrained on it has already seen thousands of
objects when it meets the measured data (the authors' follow-up work trains the same way,
Vong et al. 2025, arXiv 2509.25104).

NumPy only (no framework); deterministic by seed.  Each batch is normalised as a dataset
(physics §3: ``mean Σ X² = (N/2)²`` over the batch) and comes with its true patches, so it
serves both self-supervised (NLL) and supervised pretraining.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ptychopinn_plugin.simulation.forward import far_field_amplitude
from ptychopinn_plugin.simulation.lines import make_lines_object
from ptychopinn_plugin.simulation.objects import _smooth_field, make_object
from ptychopinn_plugin.util.bilinear import extract_patches

logger = logging.getLogger(__name__)

OBJECT_FAMILIES = ("features", "lines", "smooth")


@dataclass
class SyntheticBatch:
    """``X`` ``(B, N, N, C)`` float32 normalised amplitudes, ``coords_relative`` ``(B, 1, 2, C)``
    float32 (physics §2.2), ``Y`` ``(B, N, N, C)`` complex64 true patches at each member."""

    X: np.ndarray
    coords_relative: np.ndarray
    Y: np.ndarray


class SyntheticGroupStream:
    """Batches of simulated groups; a new object every ``groups_per_object`` groups.

    ``relative_offsets``: ``(G, 1, 2, C)`` member offsets ``r`` of the user's groups (the
    container's ``coords_nominal``); each synthetic group copies one of them at random, so
    the group geometry the network sees matches the measured scan.  ``families`` are drawn
    in turn.  ``amplitude_range``/``phase_range`` bound the procedural objects.

    ``gauge_probe``: the model's *normalised* probe (physics §6.1).  When given, ``Y`` is
    returned in the physics gauge of that probe, ``Y = g·O`` with one factor ``g`` per batch
    such that ``Σ|P·Y|² = Σ X²`` over the batch: the object the model's own forward model
    needs to reproduce the normalised patterns.  Unlike the true amplitude (which the
    normalisation hides from the network: an object of amplitude 0.5 and one of 1.0 give
    the same ``X``), this target is fixed by ``X`` itself, and it is the object the physics
    loss asks for afterwards, so supervised pretraining and self-supervised fine-tuning agree
    (docs/benchmarks.md, "Paper lines benchmark": without it the switch collapsed the model).
    """

    def __init__(
        self,
        probe: np.ndarray,
        relative_offsets: np.ndarray,
        *,
        nphotons: float,
        seed: int = 0,
        families: tuple[str, ...] = OBJECT_FAMILIES,
        object_size: int = 196,
        groups_per_object: int = 64,
        amplitude_range: tuple[float, float] = (0.5, 1.0),
        phase_range: tuple[float, float] = (-1.0, 1.0),
        gauge_probe: np.ndarray | None = None,
    ) -> None:
        probe = np.asarray(probe)
        if probe.ndim != 2 or probe.shape[0] != probe.shape[1]:
            raise ValueError(f"probe must be a square (N, N) array; got shape {probe.shape}")
        offsets = np.asarray(relative_offsets, dtype=np.float64)
        if offsets.ndim != 4 or offsets.shape[1:3] != (1, 2):
            raise ValueError(f"relative_offsets must be (G, 1, 2, C); got shape {offsets.shape}")
        unknown = sorted(set(families) - set(OBJECT_FAMILIES))
        if not families or unknown:
            raise ValueError(f"families = {families!r} is invalid; allowed: a non-empty subset of {OBJECT_FAMILIES}")
        if not nphotons > 0:
            raise ValueError(f"nphotons = {nphotons!r} is invalid; expected photons per pattern > 0")
        self.N = int(probe.shape[0])
        if object_size < self.N + 2 * int(np.ceil(np.abs(offsets).max())) + 4:
            raise ValueError(f"object_size = {object_size} is too small for N = {self.N} and the group offsets")
        self.probe = probe.astype(np.complex128)
        self.offsets = offsets
        self.nphotons = float(nphotons)
        self.families = tuple(families)
        self.object_size = int(object_size)
        self.groups_per_object = int(groups_per_object)
        self.amplitude_range = amplitude_range
        self.phase_range = phase_range
        self.gauge_probe = None
        if gauge_probe is not None:
            gauge_probe = np.asarray(gauge_probe)
            if gauge_probe.shape != probe.shape:
                raise ValueError(f"gauge_probe must have the probe's shape {probe.shape}; got {gauge_probe.shape}")
            self.gauge_probe = gauge_probe.astype(np.complex128)
        self._rng = np.random.default_rng(seed)
        self._object: np.ndarray | None = None
        self._left = 0
        self._objects_made = 0

    @property
    def channels(self) -> int:
        return int(self.offsets.shape[3])

    def _new_object(self) -> np.ndarray:
        family = self.families[self._objects_made % len(self.families)]
        self._objects_made += 1
        size = self.object_size
        seed = int(self._rng.integers(2**63 - 1))
        lo, hi = self.amplitude_range
        if family == "features":
            return make_object(size, seed, amplitude_range=self.amplitude_range, phase_range=self.phase_range)
        if family == "lines":
            obj = make_lines_object(size, seed, amplitude_range=self.amplitude_range)
            # Lines get a phase too (proportional to the absorption), so both branches learn.
            strength = self._rng.uniform(*self.phase_range)
            amp = np.abs(obj)
            phase = strength * (amp - lo) / max(hi - lo, 1e-6)
            return (amp * np.exp(1j * phase)).astype(np.complex64)
        rng = np.random.default_rng(seed)
        corr = rng.uniform(3.0, 12.0)
        amp = lo + (hi - lo) * _smooth_field(rng, size, size, corr)
        ph_lo, ph_hi = self.phase_range
        phase = ph_lo + (ph_hi - ph_lo) * _smooth_field(rng, size, size, corr)
        return (amp * np.exp(1j * phase)).astype(np.complex64)

    def next_batch(self, batch_size: int) -> SyntheticBatch:
        """``batch_size`` groups (objects are switched inside a batch when one is used up)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        c = self.channels
        n = self.N
        r = self.offsets[self._rng.integers(0, self.offsets.shape[0], batch_size)]  # (B, 1, 2, C)
        margin = n / 2 + np.abs(r).max() + 1
        patches = np.empty((batch_size, c, n, n), dtype=np.complex64)
        for b in range(batch_size):
            if self._object is None or self._left <= 0:
                self._object = self._new_object()
                self._left = self.groups_per_object
            self._left -= 1
            qx, qy = self._rng.uniform(margin, self.object_size - margin, 2)
            xs = qx - r[b, 0, 0, :]
            ys = qy - r[b, 0, 1, :]
            patches[b] = extract_patches(self._object, xs, ys, n)
        psi = self.probe[None, None] * patches.astype(np.complex128)
        amplitude = far_field_amplitude(psi)
        s_sim = np.sqrt(self.nphotons / np.mean(np.sum(np.abs(psi) ** 2, axis=(-2, -1))))
        counts = self._rng.poisson((s_sim * amplitude) ** 2)
        measured = np.sqrt(counts.astype(np.float64))
        f = np.sqrt((n / 2) ** 2 / np.mean(np.sum(measured**2, axis=(-2, -1))))
        X = np.moveaxis(f * measured, 1, -1).astype(np.float32)
        Y = np.moveaxis(patches, 1, -1)
        if self.gauge_probe is not None:
            exit_energy = np.sum(np.abs(self.gauge_probe[None, None] * patches) ** 2)
            Y = (Y * np.sqrt(np.sum(X.astype(np.float64) ** 2) / exit_energy)).astype(np.complex64)
        return SyntheticBatch(X=X, coords_relative=r.astype(np.float32), Y=Y)
