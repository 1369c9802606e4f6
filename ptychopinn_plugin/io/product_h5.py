"""Read and write Ptychodus product HDF5 files (data spec §6.1) with h5py and NumPy only.

Why not Ptychodus's own reader: the standalone app and the CLIs must work without
Ptychodus installed, and we need readers that are lenient in the ways §6.1 prescribes
(old attribute spellings, ``/costs``, ``/probe@opr_weights``, 2-D objects) and strict
with errors that name the file and the field.

Safety: HDF5 holds no code and h5py never unpickles.  Attribute values of unexpected
kinds (references, compound or variable-length object arrays) are refused with a
message instead of being interpreted; unknown attributes and datasets are never read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import h5py
import numpy as np

from ptychopinn_plugin.io.product_model import CONSISTENCY_ARRAYS, Product, ProductRawData
from ptychopinn_plugin.util.atomic import atomic_path

logger = logging.getLogger(__name__)

__all__ = [
    "ProductFieldMissingError",
    "ProductFormatError",
    "read_product",
    "write_product",
    "RAW_DATA_GROUP",
]

RAW_DATA_GROUP = "raw_data"
CONSISTENCY_GROUP = "data_consistency"
AXIS_CANONICAL = "NHW"

_ROOT_FLOAT_ATTRS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    # (1.7 spelling, accepted older spellings, required)
    ("detector_object_distance_m", (), True),
    ("photon_energy_eV", ("probe_energy_eV",), True),
    ("exposure_time_s", (), False),
    ("probe_photon_count", (), False),
    ("mass_attenuation_m2_per_kg", ("mass_attenuation_m2_kg",), False),
    ("tomography_angle_deg", (), False),
)
_OPTIONAL_FLOAT_EXTRAS = ("focus_object_distance_m", "tilt_angle_deg")


class ProductFormatError(ValueError):
    """A product file holds a field of the wrong kind, shape or value."""


class ProductFieldMissingError(KeyError):
    """A required product field is absent.  ``str()`` is the plain message (no quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# =========================================================================== reading
def read_product(path: str | os.PathLike[str]) -> Product:
    """Read a product file into a validated :class:`Product` (data spec §6.1).

    Missing file → ``FileNotFoundError``; not HDF5 → :class:`ProductFormatError`; a missing
    required field → :class:`ProductFieldMissingError` (a ``KeyError``) naming file and
    field; a field of the wrong kind/shape → :class:`ProductFormatError`.  Unknown
    attributes and datasets are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"product file not found: {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ProductFormatError(f"{path} is not a readable HDF5 product file: {exc}") from exc
    with handle:
        reader = _Reader(handle, path)
        product = reader.product()
    logger.info("read product %s: %r", path, product)
    return product


class _Reader:
    """Field-by-field access to one open product file with file-naming errors."""

    def __init__(self, handle: h5py.File, path: Path) -> None:
        self.f = handle
        self.path = path

    # ----------------------------------------------------------------- error helpers
    def missing(self, where: str, hint: str = "") -> ProductFieldMissingError:
        return ProductFieldMissingError(
            f"product file {self.path}: missing required field '{where}'{hint}"
        )

    def bad(self, where: str, message: str) -> ProductFormatError:
        return ProductFormatError(f"product file {self.path}: field '{where}' {message}")

    # ----------------------------------------------------------------- attributes
    def attr(self, node: h5py.HLObject, key: str) -> Any:
        """Raw attribute value, or None when absent; unreadable types are refused."""
        if key not in node.attrs:
            return None
        try:
            return node.attrs[key]
        except (OSError, TypeError, ValueError) as exc:
            raise self.bad(f"{_where(node)}@{key}", f"has a type h5py cannot read safely ({exc})") from exc

    def str_attr(self, node: h5py.HLObject, key: str, *, required: bool, default: str = "") -> str:
        value = self.attr(node, key)
        where = f"{_where(node)}@{key}"
        if value is None:
            if required:
                raise self.missing(where)
            return default
        text = _as_text(value)
        if text is None:
            raise self.bad(where, f"must be a string; got {_describe(value)}")
        return text

    def float_attr(self, node: h5py.HLObject, keys: tuple[str, ...], *, required: bool,
                   default: float | None = 0.0) -> float | None:
        """First present spelling of ``keys`` as float; WARNING when spellings disagree."""
        found: list[tuple[str, float]] = []
        for key in keys:
            value = self.attr(node, key)
            if value is None:
                continue
            number = _as_number(value)
            if number is None:
                raise self.bad(f"{_where(node)}@{key}", f"must be a real number; got {_describe(value)}")
            found.append((key, number))
        if not found:
            if required:
                hint = "" if len(keys) == 1 else f" (also accepted: {', '.join(repr(k) for k in keys[1:])})"
                raise self.missing(f"{_where(node)}@{keys[0]}", hint)
            return default
        key, number = found[0]
        for other, value in found[1:]:
            if value != number:
                logger.warning("%s: attributes %r (%g) and older spelling %r (%g) disagree; using %r",
                               self.path, key, number, other, value, key)
        if key != keys[0]:
            logger.info("%s: read attribute %r under its older spelling %r", self.path, keys[0], key)
        return number

    # ----------------------------------------------------------------- datasets
    def node(self, name: str, group: h5py.Group | None = None) -> h5py.HLObject | None:
        group = self.f if group is None else group
        try:
            return group.get(name)
        except (KeyError, OSError) as exc:  # e.g. dangling external link
            raise self.bad(f"{_where(group)}/{name}".replace("//", "/"), f"cannot be opened ({exc})") from exc

    def dataset(self, name: str, *, required: bool, group: h5py.Group | None = None) -> h5py.Dataset | None:
        node = self.node(name, group)
        where = f"{_where(group or self.f)}/{name}".replace("//", "/")
        if node is None:
            if required:
                raise self.missing(where)
            return None
        if not isinstance(node, h5py.Dataset):
            raise self.bad(where, f"must be a dataset; found a {type(node).__name__}")
        return node

    def numeric(self, ds: h5py.Dataset, kinds: str, ndims: tuple[int, ...]) -> np.ndarray:
        """Read ``ds`` after checking its dtype kind and rank from the header."""
        where = _where(ds)
        if ds.shape is None:  # HDF5 null dataspace: an empty array
            if 1 in ndims and ds.dtype.kind in kinds:
                return np.zeros(0, dtype=ds.dtype)
            raise self.bad(where, "is an empty (null dataspace) dataset")
        if ds.dtype.kind not in kinds:
            raise self.bad(where, f"has dtype {ds.dtype}; expected kind(s) {_kinds(kinds)}")
        if ds.ndim not in ndims:
            raise self.bad(where, f"has shape {ds.shape}; expected rank {' or '.join(map(str, ndims))}")
        return np.asarray(ds[()])

    def checked(self, where: str, build: Callable[[], Any]) -> Any:
        """Run a validation step; turn its ValueError into one naming the file."""
        try:
            return build()
        except ProductFormatError:
            raise
        except ValueError as exc:
            if where == "/":
                raise ProductFormatError(f"product file {self.path}: invalid content: {exc}") from exc
            raise self.bad(where, f"is invalid: {exc}") from exc

    # ----------------------------------------------------------------- the product
    def product(self) -> Product:
        f = self.f
        fields: dict[str, Any] = {
            "name": self.str_attr(f, "name", required=True),
            "comments": self.str_attr(f, "comments", required=True),
        }
        for key, older, required in _ROOT_FLOAT_ATTRS:
            fields[key] = self.float_attr(f, (key, *older), required=required)
        fields.update(self.extras())
        fields.update(self.positions())
        obj_fields = self.object_fields()
        fields.update(obj_fields)
        fields.update(self.probe_fields())
        fields.update(self.losses())
        fields["raw_data"] = self.raw_data()
        fields["data_consistency"] = self.consistency()
        return self.checked("/", lambda: Product(**fields))

    def extras(self) -> dict[str, Any]:
        """Ptychodus 1.7 extras: copied through; a malformed one is dropped with a WARNING."""
        out: dict[str, Any] = {}
        for key in _OPTIONAL_FLOAT_EXTRAS:
            value = self.attr(self.f, key)
            if value is None:
                continue
            number = _as_number(value)
            if number is None:
                logger.warning("%s: ignoring attribute '/@%s' = %s (expected a number)", self.path, key,
                               _describe(value))
            else:
                out[key] = number
        value = self.attr(self.f, "far_field")
        if value is not None:
            flag = _as_bool(value)
            if flag is None:
                logger.warning("%s: ignoring attribute '/@far_field' = %s (expected a bool)", self.path,
                               _describe(value))
            else:
                out["far_field"] = flag
        value = self.attr(self.f, "polarization")
        if value is not None:
            text = _as_text(value)
            number = None if text is not None else _as_number(value)
            if text is None and number is None:
                logger.warning("%s: ignoring attribute '/@polarization' = %s (expected text or a number)",
                               self.path, _describe(value))
            else:
                out["polarization"] = text if text is not None else number
        return out

    def positions(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ds = self.dataset("probe_position_indexes", required=True)
        out["probe_position_indexes"] = self.numeric(ds, "iuf", (1,))
        for axis in ("x", "y"):
            ds = self.dataset(f"probe_position_{axis}_m", required=True)
            out[f"probe_position_{axis}_m"] = self.numeric(ds, "iuf", (1,))
        ds = self.dataset("probe_photon_counts", required=False)
        if ds is not None:
            out["probe_photon_counts"] = self.numeric(ds, "iuf", (1,))
        lengths = {key: value.shape[0] for key, value in out.items()}
        if len(set(lengths.values())) != 1:
            raise self.bad("/probe_position_*", f"datasets have different lengths: {lengths}")
        return out

    def object_fields(self) -> dict[str, Any]:
        ds = self.dataset("object", required=True)
        out: dict[str, Any] = {"object": self.numeric(ds, "iufc", (2, 3))}
        for key in ("center_x_m", "center_y_m", "pixel_width_m", "pixel_height_m"):
            out[f"object_{key}"] = self.float_attr(ds, (key,), required=True)
        for key in ("pixel_width_m", "pixel_height_m"):
            if not out[f"object_{key}"] > 0:
                raise self.bad(f"/object@{key}", f"must be > 0; got {out[f'object_{key}']}")
        spacing = self.dataset("object_layer_spacing_m", required=False)
        if spacing is not None:
            out["object_layer_spacing_m"] = self.numeric(spacing, "iuf", (0, 1)).reshape(-1)
        return out

    def probe_fields(self) -> dict[str, Any]:
        ds = self.dataset("probe", required=True)
        out: dict[str, Any] = {"probe": self.numeric(ds, "iufc", (2, 3, 4))}
        for key in ("pixel_width_m", "pixel_height_m"):
            value = self.float_attr(ds, (key,), required=False, default=None)
            if value is not None:
                if not value > 0:
                    raise self.bad(f"/probe@{key}", f"must be > 0; got {value}")
                out[f"probe_{key}"] = value
        weights = self.dataset("opr_weights", required=False)
        if weights is not None:
            out["opr_weights"] = self.numeric(weights, "iuf", (2,))
        else:
            value = self.attr(ds, "opr_weights")
            if value is not None:
                arr = np.asarray(value)
                if arr.dtype.kind not in "iuf" or arr.ndim != 2:
                    raise self.bad("/probe@opr_weights", f"must be a 2-D real array; got {_describe(value)}")
                logger.info("%s: read OPR weights from the older attribute '/probe@opr_weights'", self.path)
                out["opr_weights"] = arr
        return out

    def losses(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        values = self.dataset("loss_values", required=False)
        if values is None:
            values = self.dataset("costs", required=False)
            if values is not None:
                logger.info("%s: read losses from the alias '/costs'", self.path)
        if values is not None:
            out["loss_values"] = self.numeric(values, "iuf", (0, 1)).reshape(-1)
        epochs = self.dataset("loss_epochs", required=False)
        if epochs is not None:
            arr = self.numeric(epochs, "iuf", (0, 1)).reshape(-1)
            if values is None:
                if arr.size:
                    logger.warning("%s: '/loss_epochs' present without loss values; ignored", self.path)
            else:
                out["loss_epochs"] = arr
        if "loss_epochs" in out and out["loss_epochs"].shape != out["loss_values"].shape:
            raise self.bad("/loss_epochs", f"has {out['loss_epochs'].shape[0]} entries but the loss values have "
                           f"{out['loss_values'].shape[0]}")
        return out

    def consistency(self) -> dict[str, Any] | None:
        group = self.node(CONSISTENCY_GROUP)
        if group is None:
            return None
        if not isinstance(group, h5py.Group):
            raise self.bad(f"/{CONSISTENCY_GROUP}", f"must be a group; found a {type(group).__name__}")
        out: dict[str, Any] = {key: self.numeric(self.dataset(key, required=True, group=group), "f", (1,))
                               for key in CONSISTENCY_ARRAYS}
        gain = self.attr(group, "gain")
        out["gain"] = _as_number(gain) if gain is not None else float("nan")
        return out

    def raw_data(self) -> ProductRawData | None:
        group = self.node(RAW_DATA_GROUP)
        if group is None:
            return None
        if not isinstance(group, h5py.Group):
            raise self.bad(f"/{RAW_DATA_GROUP}", f"must be a group; found a {type(group).__name__}")
        ds = self.dataset("diffraction", required=True, group=group)
        axes = self.attr(ds, "axis_canonical")
        if axes is not None and _as_text(axes) != AXIS_CANONICAL:
            raise self.bad(_where(ds), f"has axis_canonical={_describe(axes)}; only {AXIS_CANONICAL!r} is supported")
        fields: dict[str, Any] = {"diffraction": self.numeric(ds, "iuf", (3,))}
        for key in ("xcoords", "ycoords"):
            fields[key] = self.numeric(self.dataset(key, required=True, group=group), "iuf", (1,))
        index = self.dataset("scan_index", required=False, group=group)
        if index is not None:
            fields["scan_index"] = self.numeric(index, "iub", (1,))
        fields["metadata"] = self.raw_metadata(group)
        return self.checked(f"/{RAW_DATA_GROUP}", lambda: ProductRawData(**fields))

    def raw_metadata(self, group: h5py.Group) -> dict[str, Any] | None:
        """``_metadata`` JSON text: a scalar string dataset (ours) or a group attribute."""
        node = self.node("_metadata", group)
        where = f"/{RAW_DATA_GROUP}/_metadata"
        if node is None:
            value = self.attr(group, "_metadata")
            where = f"/{RAW_DATA_GROUP}@_metadata"
        elif isinstance(node, h5py.Dataset) and node.dtype.kind in "SOU" and node.size == 1:
            value = node[()]
        else:
            logger.warning("%s: ignoring %s (expected a scalar JSON string)", self.path, where)
            return None
        if value is None:
            return None
        text = _as_text(value)
        parsed: Any = None
        if text is not None:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                logger.warning("%s: %s is not valid JSON (%s); ignored", self.path, where, exc)
                return None
        if not isinstance(parsed, dict):
            logger.warning("%s: %s is not a JSON object; ignored", self.path, where)
            return None
        return parsed


# --------------------------------------------------------------------------- value decoding
def _where(node: Any) -> str:
    name = getattr(node, "name", None)
    return name if isinstance(name, str) and name else "/"


def _unwrap(value: Any) -> Any:
    """A one-element array (h5py returns those for shape-(1,) attributes) → its element."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return value
        return value.reshape(-1)[0]
    return value


def _as_text(value: Any) -> str | None:
    value = _unwrap(value)
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (str, np.str_)):
        return str(value)
    return None


def _as_number(value: Any) -> float | None:
    value = _unwrap(value)
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


def _as_bool(value: Any) -> bool | None:
    value = _unwrap(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    text = _as_text(value)
    if text is not None and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    text = repr(value)
    return f"{text[:60]}{'…' if len(text) > 60 else ''} ({type(value).__name__})"


def _kinds(kinds: str) -> str:
    names = {"i": "int", "u": "uint", "f": "float", "c": "complex", "b": "bool"}
    return "/".join(names.get(k, k) for k in kinds)


# =========================================================================== writing
def write_product(path: str | os.PathLike[str], product: Product, *, link_raw_data: bool = True) -> Path:
    """Write ``product`` to ``path`` atomically with the Ptychodus 1.7 spellings (data §6.1).

    Complex arrays are complex64, reals float64, indexes/epochs int64.  Both loss datasets
    are always written (Ptychodus 1.7 reads losses only when both exist); the layer
    spacing is written even when empty.  Optional fields are written only when present.
    With ``link_raw_data`` the ``/raw_data`` group also gets hard links ``probeGuess`` →
    ``/probe`` and ``objectGuess`` → ``/object`` (no extra storage).
    """
    if not isinstance(product, Product):
        raise TypeError(f"write_product needs a Product; got {type(product).__name__}")
    path = Path(path)
    with atomic_path(path, suffix=path.suffix or ".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            _write_root(f, product)
            _write_datasets(f, product)
            if product.raw_data is not None:
                _write_raw_data(f, product.raw_data, link=link_raw_data)
            if product.data_consistency is not None:
                _write_consistency(f, product.data_consistency)
        with open(tmp, "rb+") as handle:  # h5py closes without fsync; make the bytes durable
            os.fsync(handle.fileno())
    logger.info("wrote product %s: %r", path, product)
    return path


def _write_root(f: h5py.File, p: Product) -> None:
    f.attrs["name"] = p.name
    f.attrs["comments"] = p.comments
    for key, _older, _required in _ROOT_FLOAT_ATTRS:
        f.attrs[key] = np.float64(getattr(p, key))
    for key in _OPTIONAL_FLOAT_EXTRAS:
        value = getattr(p, key)
        if value is not None:
            f.attrs[key] = np.float64(value)
    if p.far_field is not None:
        f.attrs["far_field"] = np.bool_(p.far_field)
    if p.polarization is not None:
        f.attrs["polarization"] = p.polarization if isinstance(p.polarization, str) else np.float64(p.polarization)


def _write_datasets(f: h5py.File, p: Product) -> None:
    f.create_dataset("probe_position_indexes", data=p.probe_position_indexes.astype(np.int64, copy=False))
    f.create_dataset("probe_position_x_m", data=p.probe_position_x_m.astype(np.float64, copy=False))
    f.create_dataset("probe_position_y_m", data=p.probe_position_y_m.astype(np.float64, copy=False))
    if p.probe_photon_counts is not None:
        f.create_dataset("probe_photon_counts", data=p.probe_photon_counts.astype(np.float64, copy=False))

    probe = f.create_dataset("probe", data=p.probe.astype(np.complex64, copy=False))
    probe.attrs["pixel_width_m"] = np.float64(p.probe_pixel_width_m)
    probe.attrs["pixel_height_m"] = np.float64(p.probe_pixel_height_m)
    if p.opr_weights is not None:
        f.create_dataset("opr_weights", data=p.opr_weights.astype(np.float64, copy=False))

    obj = f.create_dataset("object", data=p.object.astype(np.complex64, copy=False))
    obj.attrs["center_x_m"] = np.float64(p.object_center_x_m)
    obj.attrs["center_y_m"] = np.float64(p.object_center_y_m)
    obj.attrs["pixel_width_m"] = np.float64(p.object_pixel_width_m)
    obj.attrs["pixel_height_m"] = np.float64(p.object_pixel_height_m)
    f.create_dataset("object_layer_spacing_m", data=p.object_layer_spacing_m.astype(np.float64, copy=False))

    f.create_dataset("loss_values", data=p.loss_values.astype(np.float64, copy=False))
    epochs = p.loss_epochs if p.loss_epochs is not None else np.arange(p.loss_values.shape[0])
    f.create_dataset("loss_epochs", data=np.asarray(epochs, dtype=np.int64))


def _write_consistency(f: h5py.File, consistency: Mapping[str, Any]) -> None:
    group = f.create_group(CONSISTENCY_GROUP)
    group.attrs["gain"] = np.float64(consistency["gain"])
    group.attrs["description"] = ("misfit of /object against the measured patterns per scan position "
                                  "(rows of the probe_position arrays; NaN = not evaluated); ptychopinn")
    for key in CONSISTENCY_ARRAYS:
        group.create_dataset(key, data=np.asarray(consistency[key], dtype=np.float64))


def _write_raw_data(f: h5py.File, raw: ProductRawData, *, link: bool) -> None:
    group = f.create_group(RAW_DATA_GROUP)
    diffraction = group.create_dataset("diffraction", data=raw.diffraction.astype(np.float32, copy=False))
    diffraction.attrs["axis_canonical"] = AXIS_CANONICAL
    group.create_dataset("xcoords", data=raw.xcoords.astype(np.float64, copy=False))
    group.create_dataset("ycoords", data=raw.ycoords.astype(np.float64, copy=False))
    scan_index = raw.scan_index if raw.scan_index is not None else np.zeros(len(raw), dtype=np.int64)
    group.create_dataset("scan_index", data=np.asarray(scan_index, dtype=np.int64))
    if raw.metadata is not None:
        try:
            text = json.dumps(raw.metadata, sort_keys=True, default=_json_default)
        except TypeError as exc:
            raise ValueError(f"cannot store /{RAW_DATA_GROUP}/_metadata: {exc}") from exc
        group.create_dataset("_metadata", data=text, dtype=h5py.string_dtype("utf-8"))
    if link:
        group["probeGuess"] = f["probe"]
        group["objectGuess"] = f["object"]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"value of type {type(obj).__name__} is not JSON-serialisable")
