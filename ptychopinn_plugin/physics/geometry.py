"""Canvas geometry shared by the object_big merge and the stitcher (physics §1, §5).

The object_big canvas is larger than a patch so that the ``C`` channel patches of a
group, each moved to its member position relative to the group centre, still fit.
Its side is ``P = N + (g - 1)·offset + max_position_jitter``; ``P - N`` must be even so
an ``N×N`` patch sits *centrally* on it (a one-pixel asymmetry would shift every
extracted patch by half a pixel relative to the merged one).

Image helpers work on the **last two axes** (``(..., H, W)``), which is the layout the
NumPy references use; callers with channels-last tensors move the channel axis first
(:func:`flatten_channels`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "canvas_size",
    "central_window",
    "border_mask",
    "pad_to",
    "crop_center",
    "pad_P",
    "crop_N",
    "flatten_channels",
    "unflatten_channels",
]


def _check_side(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def canvas_size(N: int, gridsize: int = 1, offset: int = 4, max_position_jitter: int = 10) -> int:
    """Side ``P = N + (gridsize - 1)·offset + max_position_jitter`` of the object_big canvas.

    Raises ``ValueError`` when the margin ``P - N`` is odd: the patch could not be
    centred on the canvas (physics §5, checked at model build time).
    """
    N = _check_side("N", N, minimum=2)
    gridsize = _check_side("gridsize", gridsize, minimum=1)
    offset = _check_side("offset", offset, minimum=0)
    max_position_jitter = _check_side("max_position_jitter", max_position_jitter, minimum=0)
    margin = (gridsize - 1) * offset + max_position_jitter
    if margin % 2:
        raise ValueError(
            f"canvas margin (gridsize-1)*offset + max_position_jitter = ({gridsize}-1)*{offset} + "
            f"{max_position_jitter} = {margin} must be even so the {N}x{N} patch sits centrally on "
            f"the {N + margin}x{N + margin} canvas"
        )
    return N + margin


def central_window(N: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """``W``: ones on the central window ``[N/4, 3N/4)²``, zeros elsewhere, shape ``(N, N)``.

    This is the support of the ``pad_object`` object branch; the object_big merge
    counts coverage with it (physics §5).
    """
    N = _check_side("N", N, minimum=4)
    if N % 4:
        raise ValueError(f"N must be a multiple of 4 for the central N/2 window; got {N}")
    window = np.zeros((N, N), dtype=dtype)
    window[N // 4 : 3 * N // 4, N // 4 : 3 * N // 4] = 1
    return window


def border_mask(N: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """``1 - W``: the region the ``probe_big`` decoder branch may fill (physics §4.3)."""
    return (1 - central_window(N, dtype=dtype)).astype(dtype, copy=False)


def _check_even_margin(small: int, large: int, what: str) -> int:
    if large < small or (large - small) % 2:
        raise ValueError(
            f"{what}: cannot centre a {small}x{small} image in a {large}x{large} one "
            f"(need {large} >= {small} and an even difference)"
        )
    return (large - small) // 2


def pad_to(images: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad the last two axes (square, side ``n``) centrally to ``size × size``."""
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"pad_to expects (..., n, n) square images; got shape {images.shape}")
    margin = _check_even_margin(images.shape[-1], int(size), "pad_to")
    width = [(0, 0)] * (images.ndim - 2) + [(margin, margin), (margin, margin)]
    return np.pad(images, width)


def crop_center(images: np.ndarray, size: int) -> np.ndarray:
    """Central ``size × size`` of the last two axes (square images)."""
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"crop_center expects (..., n, n) square images; got shape {images.shape}")
    margin = _check_even_margin(int(size), images.shape[-1], "crop_center")
    return images[..., margin : margin + size, margin : margin + size]


def pad_P(images: np.ndarray, P: int) -> np.ndarray:
    """``pad_P``: centrally zero-pad ``N×N`` images to the ``P×P`` canvas (physics §5)."""
    return pad_to(images, P)


def crop_N(images: np.ndarray, N: int) -> np.ndarray:
    """``crop_N``: the central ``N×N`` of ``P×P`` canvases (physics §5)."""
    return crop_center(images, N)


def flatten_channels(x: np.ndarray) -> np.ndarray:
    """``(B, H, W, C)`` → ``(B·C, H, W)`` in group-major order (flat index ``b·C + c``, §2.3)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"flatten_channels expects (B, H, W, C); got shape {x.shape}")
    b, h, w, c = x.shape
    return np.moveaxis(x, 3, 1).reshape(b * c, h, w)


def unflatten_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of :func:`flatten_channels`: ``(B·C, H, W)`` → ``(B, H, W, C)``."""
    x = np.asarray(x)
    channels = _check_side("channels", channels)
    if x.ndim != 3 or x.shape[0] % channels:
        raise ValueError(
            f"unflatten_channels expects (B*C, H, W) with a leading axis divisible by C={channels}; "
            f"got shape {x.shape}"
        )
    return np.moveaxis(x.reshape(x.shape[0] // channels, channels, *x.shape[1:]), 1, 3)
