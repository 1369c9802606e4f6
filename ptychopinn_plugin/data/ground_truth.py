"""Ground-truth object patches for grouped data (data spec §2.6).

Patches are taken from ``objectGuess`` centred on each member's **own** position
``coords_nn[b, 0, :, c]`` (the original used the point reflection about the group
centre for g > 1).  The bilinear sampler zero-fills outside the object, which is the
same as the spec's ``N/2`` zero padding.
"""

from __future__ import annotations

import numpy as np

from ptychopinn_plugin.util.bilinear import extract_patches


def extract_ground_truth(object_guess: np.ndarray, coords_nn: np.ndarray, n: int) -> np.ndarray:
    """``(B, N, N, C)`` complex64 patches of ``object_guess`` at ``coords_nn`` ``(B, 1, 2, C)``."""
    coords_nn = np.asarray(coords_nn, dtype=np.float64)
    if coords_nn.ndim != 4 or coords_nn.shape[1:3] != (1, 2):
        raise ValueError(f"coords_nn must be (B, 1, 2, C); got shape {coords_nn.shape}")
    b, _, _, c = coords_nn.shape
    obj = np.asarray(object_guess).astype(np.complex64, copy=False)
    out = np.empty((b, n, n, c), dtype=np.complex64)
    for ch in range(c):
        # Channel ch of every group at once; x = index 0, y = index 1 of axis 2.
        out[..., ch] = extract_patches(obj, coords_nn[:, 0, 0, ch], coords_nn[:, 0, 1, ch], n)
    return out
