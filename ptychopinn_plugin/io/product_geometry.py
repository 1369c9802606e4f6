"""Object-frame geometry of products: pixels ↔ metres (data spec §6.3) and canvas placement (§6.2).

Ptychodus 1.7 puts the centre of object pixel ``(row, col)`` at
``x = center_x_m + pixel_width_m · (col − (W − 1)/2)`` (likewise y with H).
:class:`PixelFrame` holds that map and its inverse; placing a canvas delegates to
:func:`ptychopinn_plugin.physics.stitching.place_in_product_frame` so §6.2 has a single
implementation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ptychopinn_plugin.io.product_model import Product
from ptychopinn_plugin.physics.stitching import StitchResult, place_in_product_frame

__all__ = ["PixelFrame", "positions_px", "canvas_and_com"]


@dataclass(frozen=True)
class PixelFrame:
    """Affine map between object pixels and metres (Ptychodus 1.7 pixel-centre convention).

    ``x_m = center_x_m + pixel_width_m · (x_px − origin_x_px)`` (likewise for y), where
    ``origin_*_px`` is the pixel coordinate of the centre; for an ``(H, W)`` object it is
    ``((W − 1)/2, (H − 1)/2)`` (data §6.3).
    """

    center_x_m: float
    center_y_m: float
    pixel_width_m: float
    pixel_height_m: float
    origin_x_px: float
    origin_y_px: float

    def __post_init__(self) -> None:
        values = dataclasses.astuple(self)
        if not all(math.isfinite(float(v)) for v in values):
            raise ValueError(f"PixelFrame values must be finite; got {values}")
        if not (self.pixel_width_m > 0 and self.pixel_height_m > 0):
            raise ValueError(
                f"pixel sizes must be > 0; got width {self.pixel_width_m}, height {self.pixel_height_m}"
            )

    @classmethod
    def of_product(cls, product: Product) -> "PixelFrame":
        """The frame of the product's object (layer grid ``(H, W)``)."""
        height, width = product.object_shape
        return cls(product.object_center_x_m, product.object_center_y_m, product.object_pixel_width_m,
                   product.object_pixel_height_m, (width - 1) / 2.0, (height - 1) / 2.0)

    def to_pixels(self, x_m: Any, y_m: Any) -> tuple[np.ndarray, np.ndarray]:
        x = (np.asarray(x_m, dtype=np.float64) - self.center_x_m) / self.pixel_width_m + self.origin_x_px
        y = (np.asarray(y_m, dtype=np.float64) - self.center_y_m) / self.pixel_height_m + self.origin_y_px
        return x, y

    def to_metres(self, x_px: Any, y_px: Any) -> tuple[np.ndarray, np.ndarray]:
        x = self.center_x_m + self.pixel_width_m * (np.asarray(x_px, dtype=np.float64) - self.origin_x_px)
        y = self.center_y_m + self.pixel_height_m * (np.asarray(y_px, dtype=np.float64) - self.origin_y_px)
        return x, y

    def canvas_center(self, com_xy: Sequence[float]) -> tuple[float, float]:
        """Centre in metres of a stitched canvas whose pixel ``k`` is frame pixel ``com + k − P/2``.

        Data §6.2 with ``W_in = 2·origin_x + 1`` (so ``W_in/2 = origin_x + 1/2``), computed by
        :func:`place_in_product_frame` itself.
        """
        return place_in_product_frame(
            (float(com_xy[0]), float(com_xy[1])),
            (2.0 * self.origin_y_px + 1.0, 2.0 * self.origin_x_px + 1.0),
            (self.center_x_m, self.center_y_m),
            (self.pixel_width_m, self.pixel_height_m),
        )

    def grid_center(self, shape_hw: tuple[int, int]) -> tuple[float, float]:
        """Centre in metres of an ``(H, W)`` array whose pixel ``(0, 0)`` is frame pixel ``(0, 0)``."""
        x, y = self.to_metres((shape_hw[1] - 1) / 2.0, (shape_hw[0] - 1) / 2.0)
        return float(x), float(y)


def positions_px(product: Product) -> tuple[np.ndarray, np.ndarray]:
    """Scan positions in object pixels with the Ptychodus 1.7 mapping (data §6.3).

    ``x_px = (x_m − center_x_m)/pixel_width_m + (W − 1)/2``, ``y_px`` likewise with H, where
    ``(H, W)`` is the shape of one object layer.  Returns float64 ``(M,)`` arrays.
    """
    return PixelFrame.of_product(product).to_pixels(product.probe_position_x_m, product.probe_position_y_m)


def canvas_and_com(stitched: StitchResult | tuple[Any, Sequence[float]]) -> tuple[np.ndarray, tuple[float, float]]:
    """``(image (H, W) complex64, (com_x, com_y))`` from a StitchResult or ``(image, com_xy)``.

    ``image`` may be ``(P, P)``, ``(P, P, 1)`` or ``(1, P, P)``; ``com_xy`` is the mean of
    the group centres in object pixels (physics §10), x first.
    """
    if isinstance(stitched, StitchResult):
        image, com = stitched.image, stitched.geometry.com_xy
    elif isinstance(stitched, (tuple, list)) and len(stitched) == 2:
        image, com = stitched
    else:
        raise TypeError(f"expected a StitchResult or (image, com_xy); got {type(stitched).__name__}")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"stitched image must be (P, P), (P, P, 1) or (1, P, P); got shape {np.shape(image)}")
    if arr.dtype.kind not in "iufc":
        raise ValueError(f"stitched image must be numeric; got dtype {arr.dtype}")
    flat = np.asarray(com, dtype=np.float64).reshape(-1)
    if flat.size != 2 or not np.all(np.isfinite(flat)):
        raise ValueError(f"com_xy must be two finite numbers (x, y); got {com!r}")
    return arr.astype(np.complex64, copy=False), (float(flat[0]), float(flat[1]))
