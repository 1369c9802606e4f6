"""Ptychodus data ↔ our datasets: ``create_raw_data``, the training-data export, output products.

NumPy only (runs in the Ptychodus process).  Ptychodus objects are reached through the
adapter module; the geometry (object pixels ↔ metres, canvas placement) is the one of
``ptychopinn_plugin.io`` so the standalone tools and the plugin agree.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ptychopinn_plugin.data.normalisation import pattern_energies
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.data.validation import check_domain
from ptychopinn_plugin.io.product_convert import append_comment
from ptychopinn_plugin.io.product_geometry import PixelFrame
from ptychopinn_plugin.ptychodus._ptychodus_api import (
    LossValue,
    Object,
    ObjectCenter,
    Product,
    ReconstructInput,
    inpaint_bad_pixels,
)
from ptychopinn_plugin.util.atomic import atomic_savez

logger = logging.getLogger(__name__)

__all__ = [
    "SQUARE_PATTERNS_MESSAGE",
    "check_square_patterns",
    "create_raw_data",
    "export_training_data",
    "losses_from_history",
    "output_product",
    "raw_data_arrays",
]

SQUARE_PATTERNS_MESSAGE = "Model requires square diffraction patterns"


def check_square_patterns(parameters: ReconstructInput) -> int:
    """Pattern side ``N``; ``ValueError("Model requires square diffraction patterns")`` otherwise."""
    shape = np.shape(parameters.diffraction_patterns)
    if len(shape) != 3 or shape[-1] != shape[-2]:
        raise ValueError(f"{SQUARE_PATTERNS_MESSAGE}; got patterns of shape {shape}")
    return int(shape[-1])


def _bad_pixel_mask(parameters: ReconstructInput, n: int) -> np.ndarray:
    mask = parameters.bad_pixels
    if mask is None:
        return np.zeros((n, n), dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (n, n):
        raise ValueError(f"bad_pixels has shape {mask.shape}; expected ({n}, {n}) like the diffraction patterns")
    return mask.astype(bool, copy=False)


def create_raw_data(parameters: ReconstructInput, domain: str) -> RawData:
    """Canonical :class:`RawData` from a Ptychodus ``ReconstructInput`` (api spec §5.2, steps 2–4).

    * bad pixels repaired with Ptychodus's own ``inpaint_bad_pixels`` (biharmonic, the
      preprocessing its PtychoPINN path applies), then converted to amplitude per
      ``domain`` (``'intensity'``: sqrt of counts, ``'amplitude'``: unchanged, ``'auto'``:
      integer dtype = counts; data §1.4);
    * positions → object pixels with Ptychodus's ``ObjectGeometry`` (data §6.3);
    * probe = the mode stack at OPR index 0, reduced to its dominant mode (data §1.5);
    * ``objectGuess`` = object layer 0, ``scan_index`` = zeros; ``extra_arrays['bad_pixels']``
      keeps the mask.
    """
    check_domain(domain)
    n = check_square_patterns(parameters)
    product = parameters.product
    patterns = np.asarray(parameters.diffraction_patterns)
    if patterns.shape[0] != len(product.probe_positions):
        raise ValueError(
            f"Ptychodus passed {patterns.shape[0]} diffraction patterns but {len(product.probe_positions)} "
            "probe positions"
        )
    mask = _bad_pixel_mask(parameters, n)
    repaired = inpaint_bad_pixels(patterns, mask)
    geometry = product.object_.get_geometry()
    x = np.asarray(geometry.map_probe_positions_to_object_x_px(product.probe_positions), dtype=np.float64)
    y = np.asarray(geometry.map_probe_positions_to_object_y_px(product.probe_positions), dtype=np.float64)
    probe = np.asarray(product.probes.get_probe_no_opr().get_array())
    raw = RawData(
        x, y, x, y, repaired, probe, np.zeros(x.shape[0], dtype=np.int64), product.object_.get_layer(0),
        extra_arrays={"bad_pixels": mask}, diffraction_domain=domain,
        source=f"Ptychodus product {product.metadata.name!r}",
    )
    logger.info("Ptychodus input → %r (%d bad pixel(s) inpainted, domain %s)", raw, int(mask.sum()), domain)
    return raw


def raw_data_arrays(raw: RawData) -> dict[str, Any]:
    """The arrays a child needs to rebuild ``raw`` (plain NumPy, no object arrays)."""
    return {
        "xcoords": raw.xcoords, "ycoords": raw.ycoords, "xcoords_start": raw.xcoords_start,
        "ycoords_start": raw.ycoords_start, "diff3d": raw.diff3d, "probeGuess": raw.probeGuess,
        "scan_index": raw.scan_index, "objectGuess": raw.objectGuess,
        "metadata": dict(raw.metadata) if raw.metadata else None,
    }


def export_training_data(file_path: str | os.PathLike[str], parameters: ReconstructInput, domain: str) -> Path:
    """Write the training-data NPZ of data spec §5.2 (atomically; returns the path written).

    ``diff3d`` holds float32 **amplitude** (sqrt of the inpainted counts for the default
    ``'intensity'`` domain), ``probeGuess`` the dominant mode, and ``_metadata`` the
    domain, the photon estimate ``mean_m Σ counts`` and the pixel size, so training reads
    the file without guessing.  Like ``numpy.savez``, ``.npz`` is appended to a path that
    lacks it.
    """
    path = Path(file_path)
    if not path.name.endswith(".npz"):
        path = path.with_name(path.name + ".npz")
    raw = create_raw_data(parameters, domain)
    product = parameters.product
    pixel = product.object_.get_pixel_geometry()
    metadata = {
        "diffraction_domain": "amplitude",
        "source": "ptychodus",
        "nphotons_estimate": float(np.mean(pattern_energies(raw.diff3d))),
        "probe_photon_count": float(product.metadata.probe_photon_count),
        "pixel_width_m": float(pixel.width_m),
        "pixel_height_m": float(pixel.height_m),
    }
    atomic_savez(
        path,
        xcoords=raw.xcoords.astype(np.float64, copy=False),
        ycoords=raw.ycoords.astype(np.float64, copy=False),
        xcoords_start=raw.xcoords_start.astype(np.float64, copy=False),
        ycoords_start=raw.ycoords_start.astype(np.float64, copy=False),
        diff3d=raw.diff3d.astype(np.float32, copy=False),
        bad_pixels=raw.extra_arrays["bad_pixels"].astype(bool, copy=False),
        probeGuess=raw.probeGuess.astype(np.complex64, copy=False),
        objectGuess=np.asarray(raw.objectGuess, dtype=np.complex64),
        scan_index=raw.scan_index.astype(np.int64, copy=False),
        _metadata=np.array(json.dumps(metadata, sort_keys=True)),
    )
    logger.info("exported %d patterns (N=%d) for PtychoPINN training to %s", len(raw), raw.N, path)
    return path


def losses_from_history(history: Optional[Mapping[str, Sequence[float]]], key: str = "loss") -> list[LossValue]:
    """``LossValue(epoch, value)`` per epoch from an archived/training history.

    ``key='loss'`` reads ``train_loss`` (PyTorch) or ``loss`` (TensorFlow);
    ``key='val_loss'`` the validation loss.
    """
    if not history:
        return []
    names = ("train_loss", "loss") if key == "loss" else (key,)
    for name in names:
        values = history.get(name)
        if values:
            return [LossValue(epoch=i, value=float(v)) for i, v in enumerate(values)]
    return []


def output_product(input_product: Product, image: np.ndarray, com_xy: Sequence[float], *,
                   losses: Sequence[LossValue], comments_note: Optional[str]) -> Product:
    """The Ptychodus product of a stitched reconstruction of ``input_product`` (data §6.2).

    The object is the canvas ``(1, P, P)`` with the input pixel size and the centre
    ``center_in + pixel · (com − size_in/2)`` (exact for Ptychodus's pixel-centre
    mapping); positions, probes and metadata are copied (a provenance line is appended to
    the comments); losses = the model's training history.
    """
    canvas = np.asarray(image, dtype=np.complex64)
    if canvas.ndim == 3 and canvas.shape[-1] == 1:
        canvas = canvas[..., 0]
    if canvas.ndim != 2:
        raise ValueError(f"stitched image must be (P, P); got shape {np.shape(image)}")
    geometry = input_product.object_.get_geometry()
    frame = PixelFrame(geometry.center_x_m, geometry.center_y_m, geometry.pixel_width_m, geometry.pixel_height_m,
                       (geometry.width_px - 1) / 2.0, (geometry.height_px - 1) / 2.0)
    center_x, center_y = frame.canvas_center((float(com_xy[0]), float(com_xy[1])))
    metadata = dataclasses.replace(input_product.metadata,
                                   comments=append_comment(input_product.metadata.comments, comments_note))
    obj = Object(
        array=canvas[np.newaxis],
        pixel_geometry=input_product.object_.get_pixel_geometry(),
        center=ObjectCenter(x_m=center_x, y_m=center_y),
        layer_spacing_m=[],
    )
    return Product(metadata=metadata, probe_positions=input_product.probe_positions, probes=input_product.probes,
                   object_=obj, losses=list(losses))
