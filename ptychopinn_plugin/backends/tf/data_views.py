"""Model inputs/targets and ``tf.data`` pipelines from a NumPy container (data spec §3.1).

PINN batches: inputs ``(s·X, coords_nominal)``, targets ``(Y_c, s·X, (s·X)²)`` where
``Y_c = T_{−r_{b,0}}(Y_{b,0})`` is the complex64 channel-0 ground-truth patch moved onto
the group centre (physics §12.1).  Supervised batches (§9, g = 1): targets
``(|Y|, angle(Y))`` of the bare patch.

Two paths with the same batches: in memory (``≤ STREAM_THRESHOLD`` groups: arrays are
sliced into tensors once) and streamed (``> STREAM_THRESHOLD``: every batch is gathered
from the NumPy arrays — which may be memory-mapped — inside ``tf.data``, so only a few
batches exist as tensors at a time).  In both, ``s·X`` and ``(s·X)²`` are computed per
batch in float32 (the same IEEE product as ``np.float32(s) * X``), so the large
target arrays are never materialised.

Validation is the **last** ``n − int(0.95·n)`` groups, taken before any shuffling
(physics §12.2), in both paths.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from ptychopinn_plugin.util.bilinear import translate

logger = logging.getLogger(__name__)

__all__ = [
    "STREAM_THRESHOLD",
    "TRAIN_FRACTION",
    "TrainingArrays",
    "center_ground_truth",
    "validation_split",
    "make_dataset",
    "as_tf_dataset",
]

STREAM_THRESHOLD = 10_000
"""More groups than this → streamed batches (physics §12.2 "Large data")."""
TRAIN_FRACTION = 0.95
_CENTER_CHUNK = 1024


@dataclass
class TrainingArrays:
    """What training needs from a container, as NumPy (no copies of the big arrays).

    ``X`` ``(B, N, N, C)`` normalised amplitude (float32, may be a memmap);
    ``coords`` ``(B, 1, 2, C)`` float32 relative offsets fed to the model (nominal);
    ``Y`` ``(B, N, N, C)`` complex64 ground truth or None; ``probe`` raw ``(N, N)``.
    """

    X: np.ndarray
    coords: np.ndarray
    Y: Optional[np.ndarray]
    probe: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if self.X.ndim != 4 or self.X.shape[1] != self.X.shape[2]:
            raise ValueError(f"X must be (B, N, N, C) with square patterns; got shape {self.X.shape}")
        b, _, _, c = self.X.shape
        if self.coords.shape != (b, 1, 2, c):
            raise ValueError(f"coords must have shape {(b, 1, 2, c)} to match X {self.X.shape}; got {self.coords.shape}")
        if self.Y is not None and self.Y.shape != self.X.shape:
            raise ValueError(f"Y has shape {self.Y.shape} but X has shape {self.X.shape}")

    @property
    def has_ground_truth(self) -> bool:
        return self.Y is not None

    @property
    def N(self) -> int:
        return int(self.X.shape[1])

    @property
    def channels(self) -> int:
        return int(self.X.shape[3])

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @classmethod
    def from_container(cls, container: Any) -> "TrainingArrays":
        """Read ``X``, ``coords_nominal``, ground truth and the raw probe of a container.

        Works with :class:`ptychopinn_plugin.data.container.PtychoDataContainer` and with
        any object exposing the same attributes.  A container whose
        ``has_ground_truth`` is False (dummy ``Y``) yields ``Y = None``.
        """
        x = np.asarray(container.X)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        coords = container.coords_nominal if hasattr(container, "coords_nominal") else container.coords
        coords = np.asarray(coords, dtype=np.float32)
        has_gt = getattr(container, "has_ground_truth", None)
        if callable(has_gt):
            has_gt = has_gt()
        y = getattr(container, "Y", None) if has_gt in (None, True) else None
        if y is not None:
            y = np.asarray(y).astype(np.complex64, copy=False)
        probe = getattr(container, "probe", None)
        return cls(X=x, coords=coords, Y=y, probe=None if probe is None else np.asarray(probe))


def center_ground_truth(Y: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``Y_c = T_{−r_{b,0}}(Y_{b,0})`` as complex64 ``(B, N, N, 1)`` (data §3.1 ``center``).

    Channel 0's patch, centred on member 0's position, is moved by ``−r = p − q`` so it
    is centred on the group centre ``q_b`` like ``trimmed_obj``.
    """
    Y = np.asarray(Y)
    coords = np.asarray(coords, dtype=np.float64)
    if Y.ndim != 4 or coords.ndim != 4 or coords.shape[0] != Y.shape[0]:
        raise ValueError(f"center_ground_truth: Y {Y.shape} and coords {coords.shape} must be (B,N,N,C) and (B,1,2,C)")
    shifts = -coords[:, 0, :, 0]
    out = np.empty(Y.shape[:3] + (1,), dtype=np.complex64)
    for start in range(0, Y.shape[0], _CENTER_CHUNK):  # bounded temporaries for large sets
        stop = min(start + _CENTER_CHUNK, Y.shape[0])
        patch = np.asarray(Y[start:stop, ..., 0], dtype=np.complex64)
        if np.any(shifts[start:stop]):
            patch = translate(patch, shifts[start:stop])
        out[start:stop, ..., 0] = patch  # T_0 is the identity (gridsize 1)
    return out


def validation_split(n: int) -> tuple[slice, slice]:
    """``(train, validation)`` slices: the last ``n − int(0.95·n)`` groups validate."""
    n = int(n)
    n_train = int(TRAIN_FRACTION * n)
    if n_train < 1:
        raise ValueError(f"need at least 2 groups to train with a validation split; got {n}")
    return slice(0, n_train), slice(n_train, n)


# ----------------------------------------------------------------------------- batch maps
def _pinn_io(scale: tf.Tensor):
    def to_model(x: tf.Tensor, coords: tf.Tensor, y_c: tf.Tensor):
        scaled = x * scale
        return (scaled, coords), (y_c, scaled, scaled * scaled)

    return to_model


def _supervised_io(scale: tf.Tensor):
    def to_model(x: tf.Tensor, coords: tf.Tensor, y_amp: tf.Tensor, y_phase: tf.Tensor):
        return (x * scale, coords), (y_amp, y_phase)

    return to_model


def _targets_numpy(arrays: TrainingArrays, index: np.ndarray | slice, supervised: bool) -> tuple[np.ndarray, ...]:
    """NumPy ``(X, coords, *targets)`` for the groups ``index`` (before the TF map)."""
    x = np.asarray(arrays.X[index], dtype=np.float32)
    coords = np.asarray(arrays.coords[index], dtype=np.float32)
    b, n = x.shape[0], x.shape[1]
    if supervised:
        if arrays.Y is None:
            raise ValueError("supervised training needs ground-truth object patches (Y or objectGuess)")
        y = np.asarray(arrays.Y[index][..., :1])
        return x, coords, np.abs(y).astype(np.float32), np.angle(y).astype(np.float32)
    if arrays.Y is None:
        # No ground truth: the real-space loss is off (checked by the loss builder);
        # the trimmed_obj target is a placeholder.
        y_c = np.zeros((b, n, n, 1), dtype=np.complex64)
    else:
        y_c = center_ground_truth(arrays.Y[index], coords)
    return x, coords, y_c


def _signature(arrays: TrainingArrays, supervised: bool) -> tuple[tf.TensorSpec, ...]:
    n, c = arrays.N, arrays.channels
    specs = [tf.TensorSpec((None, n, n, c), tf.float32), tf.TensorSpec((None, 1, 2, c), tf.float32)]
    if supervised:
        specs += [tf.TensorSpec((None, n, n, 1), tf.float32)] * 2
    else:
        specs += [tf.TensorSpec((None, n, n, 1), tf.complex64)]
    return tuple(specs)


def make_dataset(
    arrays: TrainingArrays,
    index: slice,
    *,
    batch_size: int,
    intensity_scale: float,
    shuffle: bool,
    seed: Optional[int] = None,
    streaming: bool = False,
    supervised: bool = False,
) -> tf.data.Dataset:
    """Batches ``((s·X, coords), targets)`` for the contiguous groups ``index``.

    ``shuffle`` reshuffles the groups every epoch (seeded by ``seed``).  ``streaming``
    gathers each batch from the NumPy arrays on demand instead of slicing them into
    tensors up front.
    """
    start, stop, _ = index.indices(len(arrays))
    count = stop - start
    if count <= 0:
        raise ValueError(f"empty group range {index} for {len(arrays)} groups")
    scale = tf.constant(np.float32(intensity_scale))
    to_model = _supervised_io(scale) if supervised else _pinn_io(scale)
    if not streaming:
        tensors = _targets_numpy(arrays, slice(start, stop), supervised)
        ds = tf.data.Dataset.from_tensor_slices(tensors)
        if shuffle:
            ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
    else:
        specs = _signature(arrays, supervised)

        def load(batch_indices: np.ndarray) -> tuple[np.ndarray, ...]:
            # Sorted reads are friendlier to memory-mapped arrays; order inside a batch
            # does not matter (losses are batch means).
            return _targets_numpy(arrays, np.sort(batch_indices), supervised)

        def load_tf(batch_indices: tf.Tensor) -> tuple[tf.Tensor, ...]:
            out = tf.numpy_function(load, [batch_indices], [s.dtype for s in specs], stateful=False)
            for tensor, spec in zip(out, specs):
                tensor.set_shape(spec.shape)
            return tuple(out)

        ds = tf.data.Dataset.range(start, stop)
        if shuffle:
            ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size).map(load_tf, num_parallel_calls=1)
    return ds.map(to_model, num_parallel_calls=1).prefetch(2)


def as_tf_dataset(
    container: Any,
    batch_size: int,
    shuffle: bool = True,
    *,
    intensity_scale: Optional[float] = None,
    seed: Optional[int] = None,
) -> tf.data.Dataset:
    """Streamed PINN batches over all groups of ``container`` (data §3.1 ``as_tf_dataset``).

    ``intensity_scale`` defaults to the container's ``norm_Y_I``.
    """
    arrays = TrainingArrays.from_container(container)
    scale = float(container.norm_Y_I) if intensity_scale is None else float(intensity_scale)
    return make_dataset(
        arrays, slice(0, len(arrays)), batch_size=batch_size, intensity_scale=scale,
        shuffle=shuffle, seed=seed, streaming=True,
    )
