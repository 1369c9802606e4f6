"""``SimulationConfig``: every parameter of a simulated dataset, validated on creation.

The config is recorded verbatim in the dataset's ``_metadata.creation_info.parameters``
so a file can always be regenerated bit-for-bit from its own metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ptychopinn_plugin.config._checks import check_float, check_int

ALLOWED_N = (64, 128, 256)
OBJECT_KINDS = ("features", "lines")
PROBE_KINDS = ("defocused", "disk")
SCAN_KINDS = ("raster", "grid")


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of one simulated ptychography dataset (physics spec §13).

    Frozen so a config passed around cannot change between the simulation and the
    metadata that records it.  The defaults are the small demo/test configuration
    (N = 64, 256 positions at a step of about N/8, 196-pixel object; simulates in well under a second).
    """

    N: int = 64
    """Pattern / probe side in pixels; one of 64, 128, 256 (the model's allowed sizes)."""
    object_size: int = 196
    """Side of the square object in pixels; must leave room for the scan (see ``margin``)."""
    n_positions: int | None = 256
    """Number of scan positions on a jittered raster; None → use ``scan_step`` instead."""
    scan_step: float | None = None
    """Raster step in pixels (used only when ``n_positions`` is None); N/8..N/6 gives strong overlap."""
    margin: int = 4
    """Pixels kept free between the scanned region [N/2 + margin, size − N/2 − margin] and the edge."""
    jitter: float = 1.0
    """Half-width (pixels) of the uniform random offset added to each raster point, so
    the scan is not a perfect lattice (avoids raster-grid ambiguities)."""
    nphotons: float = 1e6
    """Mean photons per diffraction pattern (Poisson dose); ≥ 1e6 recommended (finding SYNTH-POISSON-DOSE-001)."""
    seed: int = 0
    """Seed of every random draw (object, jitter, Poisson noise): same seed → identical arrays."""
    probe_pupil_fraction: float = 0.25
    """Pupil radius in frequency pixels as a fraction of N (sets the focal-spot size and the diffraction disc radius)."""
    probe_radius_fraction: float = 0.14
    """Geometric radius of the defocused beam as a fraction of N (sets the defocus);
    0.14 keeps ~98 % of the probe energy inside the model's central N/2 window."""
    probe_scale: float = 4.0
    """Probe normalisation of physics §6.1: mean |Msk·P| = 1/probe_scale."""
    object_kind: str = "features"
    """'features' (gratings, discs, Siemens star; independent amplitude and phase; the
    app's sample) or 'lines' (random blurred line segments, amplitude only: the
    PtychoPINN authors' SIM-LINES benchmark object, :mod:`.lines`)."""
    probe_kind: str = "defocused"
    """'defocused' (circular pupil with defocus, ``probe_*_fraction``) or 'disk' (the
    idealised blurred disk of physics §6.3, the authors' 'disk' probe)."""
    scan: str = "raster"
    """'raster' (jittered raster, ``jitter``) or 'grid' (an exact lattice of step
    ``scan_step``; requires ``jitter = 0``): the authors' 'grid' geometry."""

    def __post_init__(self) -> None:
        validate_simulation_config(self)

    @property
    def scan_low(self) -> float:
        """Lowest allowed scan coordinate (both axes): N/2 + margin."""
        return self.N / 2 + self.margin

    @property
    def scan_high(self) -> float:
        """Highest allowed scan coordinate (both axes): object_size − N/2 − margin."""
        return self.object_size - self.N / 2 - self.margin

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary of the fields."""
        return asdict(self)


def validate_simulation_config(cfg: SimulationConfig) -> None:
    """Field checks; every failure is a ``ValueError`` naming field, value and allowed range."""
    owner = "SimulationConfig"
    if isinstance(cfg.N, bool) or cfg.N not in ALLOWED_N:
        raise ValueError(f"{owner}.N = {cfg.N!r} is invalid; allowed: one of {ALLOWED_N}")
    check_int(owner, "object_size", cfg.object_size, minimum=1)
    check_int(owner, "margin", cfg.margin, minimum=0)
    check_float(owner, "jitter", cfg.jitter, minimum=0.0)
    check_int(owner, "n_positions", cfg.n_positions, minimum=1, allow_none=True)
    check_float(owner, "scan_step", cfg.scan_step, exclusive_minimum=0.0, allow_none=True)
    if (cfg.n_positions is None) == (cfg.scan_step is None):
        raise ValueError(
            f"{owner}: exactly one of n_positions ({cfg.n_positions!r}) and scan_step "
            f"({cfg.scan_step!r}) must be set"
        )
    check_float(owner, "nphotons", cfg.nphotons, exclusive_minimum=0.0)
    if cfg.nphotons == float("inf"):
        raise ValueError(f"{owner}.nphotons = inf is invalid; allowed: a finite positive number")
    check_int(owner, "seed", cfg.seed, minimum=0)
    check_float(owner, "probe_pupil_fraction", cfg.probe_pupil_fraction, exclusive_minimum=0.0, maximum=0.5)
    check_float(owner, "probe_radius_fraction", cfg.probe_radius_fraction, minimum=0.0, maximum=0.5)
    check_float(owner, "probe_scale", cfg.probe_scale, exclusive_minimum=0.0)
    for name, allowed in (("object_kind", OBJECT_KINDS), ("probe_kind", PROBE_KINDS), ("scan", SCAN_KINDS)):
        value = getattr(cfg, name)
        if value not in allowed:
            raise ValueError(f"{owner}.{name} = {value!r} is invalid; allowed: one of {allowed}")
    if cfg.scan == "grid" and (cfg.jitter != 0 or cfg.scan_step is None):
        raise ValueError(
            f"{owner}.scan = 'grid' needs an exact lattice: jitter = 0 (got {cfg.jitter!r}) and "
            f"scan_step set (got {cfg.scan_step!r})"
        )
    span = cfg.object_size - cfg.N - 2 * cfg.margin
    if span < 2 * cfg.jitter:
        raise ValueError(
            f"{owner}.object_size = {cfg.object_size} is too small for N = {cfg.N}, margin = "
            f"{cfg.margin}, jitter = {cfg.jitter}; allowed: object_size >= "
            f"N + 2·margin + 2·jitter = {cfg.N + 2 * cfg.margin + 2 * cfg.jitter:g}"
        )
