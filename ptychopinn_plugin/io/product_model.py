"""Typed, validated in-memory form of a Ptychodus product (data spec §6.1).

Why a dataclass of our own instead of ``ptychodus.api.product.Product``: the standalone
app, the CLIs and the tests must read and write product files without Ptychodus
installed, and every consumer should get canonical dtypes (complex64 arrays, float64
reals, int64 indexes) whatever the file held.  The Ptychodus adapter converts between
this class and Ptychodus's own objects in one place.

Both classes are frozen: derive a modified copy with :func:`dataclasses.replace`, which
re-runs the validation.  Validation canonicalises dtypes without copying arrays that are
already canonical.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["Product", "ProductRawData"]

_set = object.__setattr__  # frozen dataclasses assign their canonical values through this


# --------------------------------------------------------------------------- helpers
def _float(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite float (``> 0`` when ``positive``); bools and strings are refused."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Product.{name} must be a real number; got {value!r} ({type(value).__name__})")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"Product.{name} must be finite; got {result}")
    if positive and not result > 0:
        raise ValueError(f"Product.{name} must be > 0; got {result}")
    return result


def _optional_float(value: Any, name: str) -> float | None:
    return None if value is None else _float(value, name)


def _real_array(value: Any, name: str, ndim: int, dtype: type) -> np.ndarray:
    """Real array of rank ``ndim`` cast to ``dtype`` (finite values only)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" and not (arr.dtype.kind == "b" and dtype is np.int64):
        raise ValueError(f"Product.{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"Product.{name} must be {ndim}-D; got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"Product.{name} holds {int(np.count_nonzero(~np.isfinite(arr)))} non-finite value(s)")
    if dtype is np.int64 and arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"Product.{name} must hold integers; got non-integral {arr.dtype} values")
    return arr.astype(dtype, copy=False)


def _complex_array(value: Any, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """complex64 array whose rank is one of ``ndims`` (complex128 is down-cast)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"Product.{name} must be a numeric (complex) array; got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        raise ValueError(f"Product.{name} must have rank in {ndims}; got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"Product.{name} must not be empty; got shape {arr.shape}")
    arr = arr.astype(np.complex64, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        # Kept, not refused: Ptychodus writes such products (e.g. a diverged reconstruction)
        # and they must stay readable; converting the probe for a model refuses them (§1.5).
        logger.warning("Product.%s holds %d non-finite value(s)", name, bad)
    return arr


def _plain_metadata(value: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping (JSON object); got {type(value).__name__}")
    return dict(value)


# --------------------------------------------------------------------------- raw data group
@dataclass(frozen=True, eq=False, kw_only=True)
class ProductRawData:
    """Contents of the optional ``/raw_data`` group (our extension of data spec §6.1).

    It lets a product file carry the measured patterns next to the reconstruction, so a
    single ``.h5`` is enough to retrain or re-run inference.
    """

    diffraction: np.ndarray
    """``(M, N, N)`` float32 diffraction **amplitude** (sqrt of counts), axes N-H-W."""
    xcoords: np.ndarray
    """``(M,)`` float64 scan x (column) in object pixels of the product's object (data §6.3)."""
    ycoords: np.ndarray
    """``(M,)`` float64 scan y (row) in object pixels."""
    scan_index: np.ndarray | None = None
    """``(M,)`` int64 object index per pattern (data §1.1); None → zeros."""
    metadata: dict[str, Any] | None = None
    """Parsed ``_metadata`` JSON object (data §1.6), or None."""

    def __post_init__(self) -> None:
        diff = np.asarray(self.diffraction)
        if diff.dtype.kind not in "iuf":
            raise ValueError(f"ProductRawData.diffraction must be real amplitudes; got dtype {diff.dtype}")
        if diff.ndim != 3 or diff.shape[1] != diff.shape[2]:
            raise ValueError(f"ProductRawData.diffraction must be (M, N, N); got shape {diff.shape}")
        diff = diff.astype(np.float32, copy=False)
        m = diff.shape[0]
        x = _real_array(self.xcoords, "raw_data.xcoords", 1, np.float64)
        y = _real_array(self.ycoords, "raw_data.ycoords", 1, np.float64)
        if x.shape != (m,) or y.shape != (m,):
            raise ValueError(
                f"ProductRawData: xcoords {x.shape} and ycoords {y.shape} must both be ({m},) to match "
                f"diffraction {diff.shape}"
            )
        index = (np.zeros(m, dtype=np.int64) if self.scan_index is None
                 else _real_array(self.scan_index, "raw_data.scan_index", 1, np.int64))
        if index.shape != (m,):
            raise ValueError(f"ProductRawData.scan_index has shape {index.shape}; expected ({m},)")
        _set(self, "diffraction", diff)
        _set(self, "xcoords", x)
        _set(self, "ycoords", y)
        _set(self, "scan_index", index)
        _set(self, "metadata", _plain_metadata(self.metadata, "ProductRawData.metadata"))

    def __len__(self) -> int:
        return int(self.diffraction.shape[0])


# --------------------------------------------------------------------------- product
CONSISTENCY_ARRAYS = ("r_factor", "deviance", "deviance_expected", "coverage")
"""Per-position arrays of ``Product.data_consistency`` (physics.consistency.ConsistencyMap)."""


def _consistency(value: Any, n_positions: int) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"Product.data_consistency must be a mapping; got {type(value).__name__}")
    unknown = sorted(set(value) - set(CONSISTENCY_ARRAYS) - {"gain"})
    missing = sorted(set(CONSISTENCY_ARRAYS) - set(value))
    if unknown or missing:
        raise ValueError(f"Product.data_consistency: unknown keys {unknown}, missing keys {missing}; "
                         f"expected {list(CONSISTENCY_ARRAYS)} and 'gain'")
    out: dict[str, Any] = {}
    for key in CONSISTENCY_ARRAYS:
        array = np.asarray(value[key], dtype=np.float64)
        if array.shape != (n_positions,):
            raise ValueError(f"Product.data_consistency[{key!r}] must have one value per scan position "
                             f"({n_positions},); got shape {array.shape}")
        out[key] = array
    out["gain"] = float(value.get("gain", float("nan")))
    return out


@dataclass(frozen=True, eq=False, kw_only=True)
class Product:
    """Everything a Ptychodus product file holds (data spec §6.1), in canonical dtypes.

    Coordinates are in metres in the object/world frame; the object's pixel ``(row, col)``
    has its centre at ``x = object_center_x_m + object_pixel_width_m · (col − (W − 1)/2)``
    (and likewise for y with H), the Ptychodus 1.7 pixel-centre mapping (data §6.3).
    """

    # -- metadata (root attributes) ---------------------------------------------------
    name: str
    """Product name (``/@name``)."""
    comments: str = ""
    """Free text (``/@comments``); we append one provenance line per reconstruction."""
    detector_object_distance_m: float
    """Detector–object distance in metres."""
    photon_energy_eV: float
    """Photon energy in eV (older files spell the attribute ``probe_energy_eV``)."""
    exposure_time_s: float = 0.0
    """Exposure time per pattern in seconds (0 = unknown)."""
    probe_photon_count: float = 0.0
    """Photons in the probe (0 = unknown); MAY seed ``nphotons``."""
    mass_attenuation_m2_per_kg: float = 0.0
    """Mass attenuation coefficient (older spelling ``mass_attenuation_m2_kg``)."""
    tomography_angle_deg: float = 0.0
    """Tomography angle of this projection in degrees."""
    focus_object_distance_m: float | None = None
    """Ptychodus 1.7 extra, copied through when present."""
    tilt_angle_deg: float | None = None
    """Ptychodus 1.7 extra, copied through when present."""
    far_field: bool | None = None
    """Ptychodus 1.7 extra (far-field propagation flag), copied through when present."""
    polarization: str | float | None = None
    """Ptychodus 1.7 extra, copied through as stored (text or number)."""

    # -- scan positions ---------------------------------------------------------------
    probe_position_indexes: np.ndarray
    """``(M,)`` int64 index of each scan point (which diffraction pattern it belongs to)."""
    probe_position_x_m: np.ndarray
    """``(M,)`` float64 probe x position in metres (object/world frame)."""
    probe_position_y_m: np.ndarray
    """``(M,)`` float64 probe y position in metres."""
    probe_photon_counts: np.ndarray | None = None
    """``(M,)`` float64 per-position photon counts (Ptychodus 1.7), or None."""

    # -- probe --------------------------------------------------------------------------
    probe: np.ndarray
    """complex64 ``(H, W)``, ``(I, H, W)`` (incoherent modes) or ``(Cc, I, H, W)`` (OPR
    components × modes), exactly as in the file."""
    probe_pixel_width_m: float | None = None
    """Probe pixel width in metres; None → the object's pixel width."""
    probe_pixel_height_m: float | None = None
    """Probe pixel height in metres; None → the object's pixel height."""
    opr_weights: np.ndarray | None = None
    """``(K, Cc)`` float64 orthogonal-probe-relaxation weights, or None."""

    # -- object -------------------------------------------------------------------------
    object: np.ndarray
    """complex64 ``(L, H, W)`` object layers (a 2-D input is promoted to ``(1, H, W)``)."""
    object_center_x_m: float
    """x (metres) of the object's centre, i.e. of pixel column ``(W − 1)/2``."""
    object_center_y_m: float
    """y (metres) of the object's centre, i.e. of pixel row ``(H − 1)/2``."""
    object_pixel_width_m: float
    """Object pixel width in metres (> 0)."""
    object_pixel_height_m: float
    """Object pixel height in metres (> 0)."""
    object_layer_spacing_m: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    """``(L − 1,)`` float64 spacing between layers; empty for a single layer."""

    # -- training history ---------------------------------------------------------------
    loss_values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    """``(E,)`` float64 loss per epoch (empty after inference only)."""
    loss_epochs: np.ndarray | None = None
    """``(E,)`` int64 epoch numbers; None → ``0 … E−1``."""

    # -- extension ----------------------------------------------------------------------
    raw_data: ProductRawData | None = None
    """Optional ``/raw_data`` group (measured patterns in the canonical NPZ layout)."""
    data_consistency: Mapping[str, Any] | None = None
    """Optional ``/data_consistency`` group (our extension, docs/workflows.md): per scan
    position (the rows of the position arrays) the misfit of the stored object against
    the measured patterns, float64 ``(M,)`` each, NaN where not evaluated:
    :data:`CONSISTENCY_ARRAYS`; plus the scalar ``gain``."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ValueError(f"Product.name must be a string; got {type(self.name).__name__}")
        if not isinstance(self.comments, str):
            raise ValueError(f"Product.comments must be a string; got {type(self.comments).__name__}")
        for name in ("detector_object_distance_m", "photon_energy_eV", "exposure_time_s", "probe_photon_count",
                     "mass_attenuation_m2_per_kg", "tomography_angle_deg", "object_center_x_m",
                     "object_center_y_m"):
            _set(self, name, _float(getattr(self, name), name))
        for name in ("object_pixel_width_m", "object_pixel_height_m"):
            _set(self, name, _float(getattr(self, name), name, positive=True))
        for name in ("focus_object_distance_m", "tilt_angle_deg"):
            _set(self, name, _optional_float(getattr(self, name), name))
        if self.far_field is not None:
            if not isinstance(self.far_field, (bool, np.bool_)):
                raise ValueError(f"Product.far_field must be a bool or None; got {self.far_field!r}")
            _set(self, "far_field", bool(self.far_field))
        if self.polarization is not None and not isinstance(self.polarization, str):
            _set(self, "polarization", _float(self.polarization, "polarization"))

        self._check_positions()
        self._check_probe()
        self._check_object()
        self._check_losses()
        if self.data_consistency is not None:
            _set(self, "data_consistency", _consistency(self.data_consistency, self.n_positions))
        if self.raw_data is not None:
            if not isinstance(self.raw_data, ProductRawData):
                raise ValueError(f"Product.raw_data must be a ProductRawData; got {type(self.raw_data).__name__}")
            if len(self.raw_data) != self.n_positions:
                logger.warning("product %r: raw_data holds %d patterns but there are %d scan positions",
                               self.name, len(self.raw_data), self.n_positions)

    def _check_positions(self) -> None:
        index = _real_array(self.probe_position_indexes, "probe_position_indexes", 1, np.int64)
        x = _real_array(self.probe_position_x_m, "probe_position_x_m", 1, np.float64)
        y = _real_array(self.probe_position_y_m, "probe_position_y_m", 1, np.float64)
        if not (index.shape == x.shape == y.shape):
            raise ValueError(
                "Product: probe_position_indexes, probe_position_x_m and probe_position_y_m must have one "
                f"common length; got {index.shape}, {x.shape}, {y.shape}"
            )
        _set(self, "probe_position_indexes", index)
        _set(self, "probe_position_x_m", x)
        _set(self, "probe_position_y_m", y)
        if self.probe_photon_counts is not None:
            counts = _real_array(self.probe_photon_counts, "probe_photon_counts", 1, np.float64)
            if counts.shape != x.shape:
                raise ValueError(f"Product.probe_photon_counts has shape {counts.shape}; expected {x.shape}")
            _set(self, "probe_photon_counts", counts)

    def _check_probe(self) -> None:
        probe = _complex_array(self.probe, "probe", (2, 3, 4))
        _set(self, "probe", probe)
        for name, default in (("probe_pixel_width_m", self.object_pixel_width_m),
                              ("probe_pixel_height_m", self.object_pixel_height_m)):
            value = getattr(self, name)
            _set(self, name, default if value is None else _float(value, name, positive=True))
        if self.opr_weights is not None:
            weights = _real_array(self.opr_weights, "opr_weights", 2, np.float64)
            n_components = probe.shape[0] if probe.ndim == 4 else 1
            if weights.shape[1] != n_components:
                logger.warning("product %r: opr_weights has %d columns but the probe has %d OPR component(s)",
                               self.name, weights.shape[1], n_components)
            _set(self, "opr_weights", weights)

    def _check_object(self) -> None:
        obj = _complex_array(self.object, "object", (2, 3))
        if obj.ndim == 2:
            obj = obj[None]
        _set(self, "object", obj)
        spacing = _real_array(self.object_layer_spacing_m, "object_layer_spacing_m", 1, np.float64)
        layers = obj.shape[0]
        if spacing.shape[0] not in (0, layers - 1):
            raise ValueError(
                f"Product.object_layer_spacing_m has {spacing.shape[0]} entries; expected {layers - 1} "
                f"(L − 1 for an object of {layers} layer(s)) or none"
            )
        _set(self, "object_layer_spacing_m", spacing)

    def _check_losses(self) -> None:
        values = _real_array(self.loss_values, "loss_values", 1, np.float64)
        epochs = (np.arange(values.shape[0], dtype=np.int64) if self.loss_epochs is None
                  else _real_array(self.loss_epochs, "loss_epochs", 1, np.int64))
        if epochs.shape != values.shape:
            raise ValueError(
                f"Product: loss_epochs {epochs.shape} and loss_values {values.shape} must have the same length"
            )
        _set(self, "loss_values", values)
        _set(self, "loss_epochs", epochs)

    # ------------------------------------------------------------------ derived values
    @property
    def n_positions(self) -> int:
        """Number of scan positions ``M``."""
        return int(self.probe_position_x_m.shape[0])

    @property
    def object_shape(self) -> tuple[int, int]:
        """``(H, W)`` of one object layer."""
        return int(self.object.shape[1]), int(self.object.shape[2])

    @property
    def object_pixel_size_m(self) -> tuple[float, float]:
        """``(width, height)`` of an object pixel in metres."""
        return self.object_pixel_width_m, self.object_pixel_height_m

    @property
    def object_center_m(self) -> tuple[float, float]:
        """``(x, y)`` of the object's centre in metres."""
        return self.object_center_x_m, self.object_center_y_m

    def __repr__(self) -> str:
        return (f"Product(name={self.name!r}, M={self.n_positions}, probe={self.probe.shape}, "
                f"object={self.object.shape}, pixel={self.object_pixel_width_m:g}×"
                f"{self.object_pixel_height_m:g} m, losses={self.loss_values.shape[0]})")
