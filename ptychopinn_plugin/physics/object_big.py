"""NumPy reference of the in-model object assembly and patch extraction (physics §5).

Deliberately slow but obviously correct: it loops over nothing clever, translates with
:func:`ptychopinn_plugin.util.bilinear.translate` (the one reference ``T_d``) and merges
each group on its own canvas — never across groups (the original's batched path summed
all groups of a batch into one canvas when ``B·C ≥ 64``, physics §15 item 3).  The TF
and torch backends are tested against these functions.

Sign convention (§5): merging moves channel ``c`` by ``-r_{b,c} = p_{b,c} - q_b``;
extraction moves the canvas by ``+r_{b,c}`` so channel ``c`` reads the region centred on
``p_{b,c}``.  The two are exact inverses.
"""

from __future__ import annotations

import numpy as np

from ptychopinn_plugin.physics.geometry import central_window, crop_N, pad_P
from ptychopinn_plugin.util.bilinear import translate

__all__ = [
    "MERGE_EPSILON",
    "relative_shifts",
    "merge_group_patches",
    "single_channel_canvas",
    "trimmed_object",
    "extract_from_canvas",
]

MERGE_EPSILON = 0.001
"""Added to the coverage count before dividing (§5); keeps the original ×1000 border gain."""


def relative_shifts(coords_relative: np.ndarray, batch: int | None = None) -> np.ndarray:
    """``coords_relative`` ``(B, 1, 2, C)`` → ``r`` as ``(B·C, 2)`` = ``(x, y)``, group-major.

    One shift per channel-flattened image (flat index ``b·C + c``); a mismatching batch
    size is an error, never broadcast (§2.3).
    """
    r = np.asarray(coords_relative, dtype=np.float64)
    if r.ndim != 4 or r.shape[1] != 1 or r.shape[2] != 2:
        raise ValueError(f"coords_relative must have shape (B, 1, 2, C) with axis 2 = [x, y]; got {r.shape}")
    if batch is not None and r.shape[0] != batch:
        raise ValueError(f"coords_relative has {r.shape[0]} groups but the patches have {batch}")
    return np.moveaxis(r[:, 0], 2, 1).reshape(-1, 2)


def _check_patches(patches: np.ndarray) -> np.ndarray:
    patches = np.asarray(patches)
    if patches.ndim != 4 or patches.shape[1] != patches.shape[2]:
        raise ValueError(f"patches must be channels-last (B, N, N, C); got shape {patches.shape}")
    return patches


def merge_group_patches(patches: np.ndarray, coords_relative: np.ndarray, P: int) -> np.ndarray:
    """object_big merge: ``U_b = S_b / (K_b + 0.001)`` per group, shape ``(B, P, P)``.

    ``S_b = Σ_c T_{-r_{b,c}}(pad_P(O_{b,c}))`` and ``K_b = Σ_c T_{-r_{b,c}}(pad_P(W))``
    with ``W`` the central-window mask.  ``patches``: ``(B, N, N, C)`` complex; the
    result keeps the patches' precision (pass complex128 for a high-precision reference).
    """
    patches = _check_patches(patches)
    b, n, _, c = patches.shape
    shifts = -relative_shifts(coords_relative, batch=b)
    flat = np.moveaxis(patches, 3, 1).reshape(b * c, n, n)
    moved = translate(pad_P(flat, P), shifts)
    real_dtype = np.float32 if patches.dtype in (np.float32, np.complex64) else np.float64
    window = np.broadcast_to(pad_P(central_window(n, dtype=real_dtype), P), (b * c, P, P))
    counts = translate(np.ascontiguousarray(window), shifts)
    numerator = moved.reshape(b, c, P, P).sum(axis=1)
    count = counts.reshape(b, c, P, P).sum(axis=1)
    return (numerator / (count + real_dtype(MERGE_EPSILON))).astype(
        np.result_type(patches.dtype, real_dtype), copy=False
    )


def single_channel_canvas(patches: np.ndarray, P: int) -> np.ndarray:
    """object_big = False: ``U_b = pad_P(O_b)`` from single-channel ``(B, N, N, 1)`` patches."""
    patches = _check_patches(patches)
    if patches.shape[3] != 1:
        raise ValueError(f"object_big=False expects one object channel; got {patches.shape[3]}")
    return pad_P(patches[..., 0], P)


def trimmed_object(canvas: np.ndarray, N: int) -> np.ndarray:
    """``trimmed_obj_b = crop_N(U_b)`` as ``(B, N, N, 1)``, centred on the group centre."""
    canvas = np.asarray(canvas)
    if canvas.ndim != 3:
        raise ValueError(f"canvas must be (B, P, P); got shape {canvas.shape}")
    return crop_N(canvas, N)[..., None]


def extract_from_canvas(canvas: np.ndarray, coords_relative: np.ndarray, N: int) -> np.ndarray:
    """Patches seen by the probe: ``Z_{b,c} = crop_N(T_{r_{b,c}}(U_b))``, flat ``(B·C, N, N)``.

    Channel ``c`` of group ``b`` is the canvas region centred on ``q_b - r_{b,c} = p_{b,c}``.
    """
    canvas = np.asarray(canvas)
    if canvas.ndim != 3 or canvas.shape[1] != canvas.shape[2]:
        raise ValueError(f"canvas must be (B, P, P); got shape {canvas.shape}")
    b = canvas.shape[0]
    shifts = relative_shifts(coords_relative, batch=b)
    c = shifts.shape[0] // b
    repeated = np.repeat(canvas, c, axis=0)
    return crop_N(translate(repeated, shifts), N)
