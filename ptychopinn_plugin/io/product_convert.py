"""Conversions between Ptychodus products, canonical datasets and stitched reconstructions.

* product (+ diffraction patterns) → :class:`RawData` / canonical NPZ (data spec §1, §5.2),
  with positions mapped to object pixels exactly as Ptychodus 1.7 does (data §6.3);
* stitched canvas → product, placed with the centre of data §6.2;
* canonical NPZ (+ optional reconstruction) → product when no input product exists.

NumPy/h5py only (no Ptychodus, no deep-learning framework), so the standalone app, the
CLIs and the Ptychodus adapter share one implementation of the geometry.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import math
import os
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from ptychopinn_plugin.data.normalisation import pattern_energies
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.data.validation import check_domain
from ptychopinn_plugin.io.diffraction_files import DEFAULT_DIFFRACTION_DATASETS, DiffractionInput, load_diffraction
from ptychopinn_plugin.io.product_geometry import PixelFrame, canvas_and_com, positions_px
from ptychopinn_plugin.io.product_h5 import read_product
from ptychopinn_plugin.io.product_model import Product, ProductRawData
from ptychopinn_plugin.physics.stitching import StitchResult, place_in_product_frame

logger = logging.getLogger(__name__)

__all__ = [
    # re-exported so that one import gives the whole conversion API
    "DEFAULT_DIFFRACTION_DATASETS",
    "DiffractionInput",
    "load_diffraction",
    "PixelFrame",
    "positions_px",
    "canvas_and_com",
    # defined here
    "DEFAULT_PIXEL_SIZE_M",
    "Pairing",
    "product_probe",
    "product_to_raw_data",
    "product_and_diffraction_to_npz",
    "provenance_note",
    "append_comment",
    "reconstruction_to_product",
    "raw_data_to_product",
    "npz_to_product",
]

Pairing = Literal["auto", "index", "order"]

DEFAULT_PIXEL_SIZE_M = 1.0
"""Pixel size used by :func:`raw_data_to_product` when neither the caller nor the
dataset's ``_metadata`` gives one: metres then equal object pixels numerically."""

_PROVENANCE_TOOL = "ptychopinn"


# =========================================================================== product → RawData
def product_probe(product: Product) -> np.ndarray:
    """The probe in the ``(H, W)`` / ``(I, H, W)`` form that data §1.5 accepts.

    A 4-D ``(Cc, I, H, W)`` OPR probe keeps component 0 — the shared (mean) probe; the
    per-position variation (components 1…) cannot be represented by a single-probe model,
    so it is dropped with a WARNING.  §1.5 then picks the dominant incoherent mode.
    """
    probe = product.probe
    if probe.ndim == 4:
        if probe.shape[0] > 1:
            logger.warning(
                "product %r: probe has %d OPR components %s; using component 0 (the shared probe) and "
                "discarding the position-dependent variation", product.name, probe.shape[0], probe.shape,
            )
        probe = probe[0]
    return probe


def _pair_patterns(product: Product, diffraction: Any, pairing: Pairing, source: str) -> np.ndarray:
    """Patterns in the order of the product's positions (first axis = position)."""
    if pairing not in ("auto", "index", "order"):
        raise ValueError(f"pairing = {pairing!r} is invalid; allowed: 'auto', 'index', 'order'")
    arr = np.asarray(diffraction)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    m = product.n_positions
    if arr.ndim != 3:
        raise ValueError(f"{source}: diffraction has shape {arr.shape}; expected (n_patterns, N, N)")
    if arr.shape[1] != arr.shape[2] and arr.shape[0] == arr.shape[1] and arr.shape[2] == m:
        return arr  # legacy (N, N, M): RawData transposes it with a WARNING (data §1.3)
    n = arr.shape[0]
    idx = product.probe_position_indexes
    addressable = bool(idx.size == 0 or (idx.min() >= 0 and idx.max() < n and np.unique(idx).size == idx.size))
    if pairing == "order" or (pairing == "auto" and not addressable):
        if n != m:
            lo, hi = (int(idx.min()), int(idx.max())) if idx.size else (0, -1)
            raise ValueError(
                f"{source}: diffraction holds {n} patterns {arr.shape} but the product has {m} scan positions "
                f"and its probe_position_indexes (range {lo}..{hi}) do not address them"
            )
        if pairing == "auto":
            logger.warning("%s: probe_position_indexes do not address the %d patterns; pairing patterns with "
                           "positions by order", source, n)
        return arr
    if not addressable:
        raise ValueError(
            f"{source}: pairing='index' but probe_position_indexes (range {int(idx.min())}..{int(idx.max())}, "
            f"{idx.size - np.unique(idx).size} duplicate(s)) do not address {n} patterns"
        )
    if n == m and np.array_equal(idx, np.arange(m)):
        return arr
    logger.info("%s: selected %d of %d patterns by probe_position_indexes", source, m, n)
    return arr[idx]


def _check_bad_pixels(mask: Any, n: int, source: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != (n, n):
        raise ValueError(f"{source}: bad_pixels has shape {arr.shape}; expected ({n}, {n}) like the patterns")
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind in "iu" and np.all((arr == 0) | (arr == 1)):
        return arr.astype(bool)
    raise ValueError(f"{source}: bad_pixels must be a boolean mask; got dtype {arr.dtype}")


def _product_metadata(product: Product) -> dict[str, Any]:
    """Scalar product fields recorded in ``_metadata['product']`` so an export can restore them."""
    record: dict[str, Any] = {
        "name": product.name,
        "comments": product.comments,
        "detector_object_distance_m": product.detector_object_distance_m,
        "photon_energy_eV": product.photon_energy_eV,
        "exposure_time_s": product.exposure_time_s,
        "probe_photon_count": product.probe_photon_count,
        "mass_attenuation_m2_per_kg": product.mass_attenuation_m2_per_kg,
        "tomography_angle_deg": product.tomography_angle_deg,
        "center_x_m": product.object_center_x_m,
        "center_y_m": product.object_center_y_m,
        "pixel_width_m": product.object_pixel_width_m,
        "pixel_height_m": product.object_pixel_height_m,
        "object_shape": list(product.object_shape),
        "probe_pixel_width_m": product.probe_pixel_width_m,
        "probe_pixel_height_m": product.probe_pixel_height_m,
    }
    for key in ("focus_object_distance_m", "tilt_angle_deg", "far_field", "polarization"):
        value = getattr(product, key)
        if value is not None:
            record[key] = value
    return record


def _transformation(operation: str, **parameters: Any) -> dict[str, Any]:
    return {"tool": _PROVENANCE_TOOL, "operation": operation, "parameters": parameters,
            "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def product_to_raw_data(
    product: Product,
    diffraction: Any,
    *,
    diffraction_domain: str,
    bad_pixels: Any = None,
    metadata: Mapping[str, Any] | None = None,
    pairing: Pairing = "auto",
    source: str | None = None,
) -> RawData:
    """Canonical :class:`RawData` from a product and its diffraction patterns.

    * positions → object pixels with :func:`positions_px` (data §6.3); ``*_start`` = same;
    * ``diffraction``: ``(n, N, N)`` patterns in ``diffraction_domain`` (required: products
      from Ptychodus come with raw counts, i.e. ``'intensity'``; ``'auto'`` follows data §1.4
      using ``metadata`` when given).  Pairing with positions (``pairing``): ``'index'`` takes
      pattern ``probe_position_indexes[m]`` for position ``m``; ``'order'`` pairs row ``m``
      with position ``m``; ``'auto'`` uses the indexes when they are unique and all address a
      pattern, otherwise pairs by order (WARNING) when the counts match;
    * probe: :func:`product_probe`, then data §1.5 (dominant incoherent mode);
    * ``objectGuess`` = layer 0 of the product object; ``scan_index`` = zeros (one object:
      ``probe_position_indexes`` number scan *points*, not objects — they are kept in
      ``extra_arrays['probe_position_indexes']``, like ``probe_photon_counts``, and so
      survive an NPZ round trip);
    * ``bad_pixels`` (``(N, N)`` bool) is recorded in ``extra_arrays`` only: repair (Ptychodus
      inpaints them) is the caller's job before the call;
    * ``metadata`` gets the §5.2 fields plus ``product`` (the scalar product fields, so
      :func:`raw_data_to_product` can restore the geometry).
    """
    check_domain(diffraction_domain)
    source = source or f"product {product.name!r}"
    patterns = _pair_patterns(product, diffraction, pairing, source)
    x_px, y_px = positions_px(product)
    extras: dict[str, np.ndarray] = {"probe_position_indexes": product.probe_position_indexes}
    if product.probe_photon_counts is not None:
        extras["probe_photon_counts"] = product.probe_photon_counts
    if product.object.shape[0] > 1:
        logger.info("%s: the object has %d layers; objectGuess = layer 0", source, product.object.shape[0])
    if bad_pixels is not None:
        extras["bad_pixels"] = _check_bad_pixels(bad_pixels, int(patterns.shape[-1]), source)
    for name in ("width", "height"):
        probe_size = getattr(product, f"probe_pixel_{name}_m")
        object_size = getattr(product, f"object_pixel_{name}_m")
        if not math.isclose(probe_size, object_size, rel_tol=1e-6):
            logger.warning(
                "%s: probe pixel %s (%g m) differs from the object pixel %s (%g m); the model assumes the "
                "probe is sampled on the object grid", source, name, probe_size, name, object_size,
            )
    raw = RawData(
        x_px, y_px, x_px, y_px, patterns, product_probe(product), None, product.object[0],
        metadata=metadata, extra_arrays=extras, diffraction_domain=diffraction_domain, source=source,
    )
    meta: dict[str, Any] = dict(metadata or {})
    previous = meta.get("data_transformations")
    transformations = list(previous) if isinstance(previous, list) else []
    transformations.append(_transformation("product_to_raw_data", diffraction_domain=diffraction_domain,
                                           pairing=pairing))
    meta.update({
        "diffraction_domain": "amplitude",
        "source": "ptychodus-product",
        "nphotons_estimate": float(np.mean(pattern_energies(raw.diff3d))),
        "probe_photon_count": product.probe_photon_count,
        "pixel_width_m": product.object_pixel_width_m,
        "pixel_height_m": product.object_pixel_height_m,
        "product": _product_metadata(product),
        "data_transformations": transformations,
    })
    raw.metadata = meta
    logger.info("%s → RawData: %r", source, raw)
    return raw


def product_and_diffraction_to_npz(
    product_path: str | os.PathLike[str],
    diffraction: str | os.PathLike[str] | np.ndarray | None,
    out_npz: str | os.PathLike[str],
    *,
    diffraction_domain: str,
    dataset: str | None = None,
    pairing: Pairing = "auto",
) -> RawData:
    """Write the canonical NPZ (data §1.8) for a product file plus its diffraction patterns.

    ``diffraction``: a file (see :func:`load_diffraction`; ``dataset`` selects the HDF5 path
    or NPZ key), an in-memory array, or None to use the product's own ``/raw_data`` group
    (paired by order).  Returns the RawData that was written.
    """
    product_path = Path(product_path)
    product = read_product(product_path)
    if diffraction is None:
        if product.raw_data is None:
            raise ValueError(f"{product_path} has no /raw_data group; give the diffraction patterns explicitly")
        given = DiffractionInput(product.raw_data.diffraction, f"{product_path}:/raw_data/diffraction",
                                 product.raw_data.metadata)
        pairing = "order"
    elif isinstance(diffraction, (str, os.PathLike)):
        given = load_diffraction(diffraction, dataset=dataset)
    else:
        given = DiffractionInput(np.asarray(diffraction), "<array>")
    raw = product_to_raw_data(
        product, given.patterns, diffraction_domain=diffraction_domain, bad_pixels=given.bad_pixels,
        metadata=given.metadata, pairing=pairing, source=f"{product_path} + {given.source}",
    )
    raw.to_file(out_npz)
    logger.info("wrote %s from %s and %s", out_npz, product_path, given.source)
    return raw


def provenance_note(*, backend: str, archive_sha256: str | None = None, version: str | None = None,
                    **details: Any) -> str:
    """One-line provenance note for ``/@comments``: package version, backend, archive sha256."""
    if version is None:
        from ptychopinn_plugin import __version__ as version
    parts = [f"{_PROVENANCE_TOOL} {version} reconstruction", f"backend={backend}"]
    if archive_sha256 is not None:
        parts.append(f"model archive sha256={archive_sha256}")
    parts.extend(f"{key}={value}" for key, value in details.items())
    return _one_line(", ".join(parts))


def _one_line(note: str) -> str:
    if not isinstance(note, str):
        raise ValueError(f"comments note must be a string; got {type(note).__name__}")
    if "\n" in note or "\r" in note:
        raise ValueError(f"comments note must be a single line; got {note!r}")
    return note.strip()


def append_comment(comments: str, note: str | None) -> str:
    """``comments`` with ``note`` appended on a line of its own (unchanged when note is empty)."""
    if not note:
        return comments
    note = _one_line(note)
    if not comments:
        return note
    return comments + ("" if comments.endswith("\n") else "\n") + note


def _losses(losses: Sequence[float] | np.ndarray | None, loss_epochs: Sequence[int] | np.ndarray | None):
    values = np.zeros(0, dtype=np.float64) if losses is None else np.asarray(losses, dtype=np.float64).reshape(-1)
    epochs = None if loss_epochs is None else np.asarray(loss_epochs).reshape(-1)
    return values, epochs


def reconstruction_to_product(
    input_product: Product,
    stitched: StitchResult | tuple[Any, Sequence[float]],
    *,
    comments_note: str | None,
    losses: Sequence[float] | np.ndarray | None = None,
    loss_epochs: Sequence[int] | np.ndarray | None = None,
    name: str | None = None,
    raw_data: ProductRawData | None = None,
    data_consistency: Mapping[str, Any] | None = None,
) -> Product:
    """The product of a stitched reconstruction of ``input_product``'s scan (data §6.2).

    The object becomes the canvas ``(1, P, P)`` (uncovered pixels stay 0) with the input
    pixel size and the centre
    ``center_out = center_in + pixel_size · (com − size_in/2)`` (per axis, via
    :func:`place_in_product_frame`), which is exact for the Ptychodus pixel-centre mapping.
    Positions, probe (incl. pixel sizes and OPR weights) and metadata are copied unchanged;
    ``comments_note`` (one line, e.g. :func:`provenance_note`) is appended to the comments;
    losses replace the input's (empty when None).  ``raw_data`` is not inherited: pass one to
    embed patterns (its coordinates must then be in the new object's pixels).
    ``data_consistency`` (per product position, :data:`~ptychopinn_plugin.io.product_model.CONSISTENCY_ARRAYS`)
    describes the new object; the input's is never inherited (it described another object).
    """
    canvas, com = canvas_and_com(stitched)
    center_x, center_y = place_in_product_frame(
        com, input_product.object_shape, input_product.object_center_m, input_product.object_pixel_size_m
    )
    values, epochs = _losses(losses, loss_epochs)
    product = dataclasses.replace(
        input_product,
        name=input_product.name if name is None else name,
        comments=append_comment(input_product.comments, comments_note),
        object=canvas[None],
        object_center_x_m=center_x,
        object_center_y_m=center_y,
        object_layer_spacing_m=np.zeros(0, dtype=np.float64),
        loss_values=values,
        loss_epochs=epochs,
        raw_data=raw_data,
        data_consistency=data_consistency,
    )
    logger.info("placed a %s canvas (com %s px) at centre (%.6g, %.6g) m", canvas.shape, com, center_x, center_y)
    return product


# =========================================================================== dataset → product
def _frame_for_raw_data(raw: RawData, pixel_size_m: float | Sequence[float] | None,
                        center_m: Sequence[float] | None) -> PixelFrame:
    """Object frame of a dataset without a product (precedence: argument > metadata > default).

    * pixel size: argument; else ``_metadata`` ``pixel_width_m``/``pixel_height_m``; else
      :data:`DEFAULT_PIXEL_SIZE_M` (WARNING);
    * centre: argument; else ``_metadata['product']`` ``center_x_m``/``center_y_m``; else 0;
    * the centre is the frame pixel ``((W − 1)/2, (H − 1)/2)`` of the object recorded in
      ``_metadata['product']['object_shape']``, else of ``objectGuess``, else the scan
      centroid.
    """
    meta = raw.metadata or {}
    record = meta.get("product") if isinstance(meta.get("product"), Mapping) else {}
    if pixel_size_m is not None:
        sizes = np.asarray(pixel_size_m, dtype=np.float64).reshape(-1)
        if sizes.size not in (1, 2):
            raise ValueError(f"pixel_size_m must be one number or (width, height); got {pixel_size_m!r}")
        width, height = float(sizes[0]), float(sizes[-1])
    elif _numbers(meta, "pixel_width_m", "pixel_height_m") is not None:
        width, height = _numbers(meta, "pixel_width_m", "pixel_height_m")
    else:
        width = height = DEFAULT_PIXEL_SIZE_M
        logger.warning("no pixel size given or recorded in the dataset metadata; using %g m (metres = pixels)",
                       DEFAULT_PIXEL_SIZE_M)
    if center_m is not None:
        center = np.asarray(center_m, dtype=np.float64).reshape(-1)
        if center.size != 2:
            raise ValueError(f"center_m must be (x, y); got {center_m!r}")
        cx, cy = float(center[0]), float(center[1])
    else:
        cx, cy = _numbers(record, "center_x_m", "center_y_m") or (0.0, 0.0)
    shape = record.get("object_shape")
    if isinstance(shape, (list, tuple)) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape):
        ox, oy = (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0
    elif raw.objectGuess is not None:
        ox, oy = (raw.objectGuess.shape[1] - 1) / 2.0, (raw.objectGuess.shape[0] - 1) / 2.0
    else:
        ox, oy = float(np.mean(raw.xcoords)), float(np.mean(raw.ycoords))
        logger.info("dataset has no objectGuess: the product centre refers to the scan centroid (%g, %g) px",
                    ox, oy)
    return PixelFrame(cx, cy, width, height, ox, oy)


def _numbers(mapping: Mapping[str, Any], *keys: str) -> tuple[float, ...] | None:
    values = []
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        values.append(float(value))
    return tuple(values)


def raw_data_to_product(
    raw: RawData,
    stitched: StitchResult | tuple[Any, Sequence[float]] | None = None,
    *,
    pixel_size_m: float | Sequence[float] | None = None,
    center_m: Sequence[float] | None = None,
    name: str | None = None,
    comments_note: str | None = None,
    losses: Sequence[float] | np.ndarray | None = None,
    loss_epochs: Sequence[int] | np.ndarray | None = None,
    include_raw_data: bool = False,
) -> Product:
    """A product for a canonical dataset when there is no input product.

    Geometry: see :func:`_frame_for_raw_data` (pixel size argument > ``_metadata`` >
    1 m; centre argument > ``_metadata['product']`` > 0).  Positions are the dataset's
    ``xcoords``/``ycoords`` mapped to metres; ``probe_position_indexes`` come from the
    dataset's extra array of that name when present, else ``0 … M−1``.  The object is the
    stitched canvas placed per data §6.2 when ``stitched`` is given, else ``objectGuess``.
    The probe is ``probeGuess`` on the object grid.  Scalar metadata (name, energies,
    distances, …) are restored from ``_metadata['product']`` when a product export wrote
    them, else 0 / the given ``name``.  ``include_raw_data`` embeds the patterns with
    coordinates in pixels of the product's object.
    """
    frame = _frame_for_raw_data(raw, pixel_size_m, center_m)
    meta = raw.metadata or {}
    record = meta.get("product") if isinstance(meta.get("product"), Mapping) else {}
    if stitched is not None:
        canvas, com = canvas_and_com(stitched)
        obj = canvas[None]
        center_x, center_y = frame.canvas_center(com)
    elif raw.objectGuess is not None:
        obj = raw.objectGuess[None]
        center_x, center_y = frame.grid_center(raw.objectGuess.shape)
    else:
        raise ValueError("cannot build a product: no reconstruction was given and the dataset has no objectGuess")
    x_m, y_m = frame.to_metres(raw.xcoords, raw.ycoords)
    m = len(raw)
    index = raw.extra_arrays.get("probe_position_indexes")
    if index is None or np.shape(index) != (m,) or np.asarray(index).dtype.kind not in "iu":
        index = np.arange(m, dtype=np.int64)
    scalars: dict[str, Any] = {}
    counts = raw.extra_arrays.get("probe_photon_counts")
    if counts is not None and np.shape(counts) == (m,) and np.asarray(counts).dtype.kind in "iuf":
        scalars["probe_photon_counts"] = counts
    for key in ("detector_object_distance_m", "photon_energy_eV", "exposure_time_s", "mass_attenuation_m2_per_kg",
                "tomography_angle_deg", "focus_object_distance_m", "tilt_angle_deg"):
        value = _numbers(record, key)
        if value is not None:
            scalars[key] = value[0]
    total = _numbers(meta, "probe_photon_count") or _numbers(record, "probe_photon_count")
    if total is not None:
        scalars["probe_photon_count"] = total[0]
    for key, kind in (("far_field", bool), ("polarization", (str, int, float))):
        if isinstance(record.get(key), kind):
            scalars[key] = record[key]
    values, epochs = _losses(losses, loss_epochs)
    product = Product(
        name=name if name is not None else str(record.get("name", "ptychopinn")),
        comments=append_comment(str(record.get("comments", "")), comments_note),
        detector_object_distance_m=scalars.pop("detector_object_distance_m", 0.0),
        photon_energy_eV=scalars.pop("photon_energy_eV", 0.0),
        probe_position_indexes=index,
        probe_position_x_m=x_m,
        probe_position_y_m=y_m,
        probe=raw.probeGuess,
        object=obj,
        object_center_x_m=center_x,
        object_center_y_m=center_y,
        object_pixel_width_m=frame.pixel_width_m,
        object_pixel_height_m=frame.pixel_height_m,
        loss_values=values,
        loss_epochs=epochs,
        **scalars,
    )
    if include_raw_data:
        if raw.diff3d is None:
            raise ValueError("include_raw_data=True but the dataset has no diffraction patterns")
        x_px, y_px = positions_px(product)
        product = dataclasses.replace(product, raw_data=ProductRawData(
            diffraction=raw.diff3d, xcoords=x_px, ycoords=y_px, scan_index=raw.scan_index,
            metadata={**meta, "diffraction_domain": "amplitude"},
        ))
    return product


def npz_to_product(
    npz_path: str | os.PathLike[str],
    stitched: StitchResult | tuple[Any, Sequence[float]] | None = None,
    *,
    pixel_size_m: float | Sequence[float] | None = None,
    center_m: Sequence[float] | None = None,
    name: str | None = None,
    comments_note: str | None = None,
    include_raw_data: bool = False,
    diffraction_domain: str = "amplitude",
) -> Product:
    """:func:`raw_data_to_product` for a canonical NPZ file (name defaults to the file stem
    unless the file records the product name)."""
    npz_path = Path(npz_path)
    raw = RawData.from_file(npz_path, diffraction_domain=diffraction_domain)
    record = (raw.metadata or {}).get("product")
    if name is None and not (isinstance(record, Mapping) and isinstance(record.get("name"), str)):
        name = npz_path.stem
    return raw_data_to_product(raw, stitched, pixel_size_m=pixel_size_m, center_m=center_m, name=name,
                               comments_note=comments_note, include_raw_data=include_raw_data)
