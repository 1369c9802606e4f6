"""TensorFlow view of the NumPy container: ``ptycho.loader.PtychoDataContainer`` (data §3.1).

The original loader returned a container whose attributes were TensorFlow tensors, and
code written against it (Ptychodus's built-in reconstructor multiplies
``container.X * intensity_scale``) expects that.  Holding every array twice (NumPy and
tensor) would double the memory of large datasets, so this view keeps the NumPy
container and converts an attribute to a tensor only when it is read (finding
PINN-CHUNKED-001); nothing is cached, so a tensor lives only as long as its caller
keeps it.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from ptychopinn_plugin.data.container import PtychoDataContainer

from .data_views import as_tf_dataset

logger = logging.getLogger(__name__)

__all__ = ["PtychoDataContainerTF", "to_tensor"]

_TENSOR_DTYPES = {
    "X": tf.float32,
    "Y_I": tf.float32,
    "Y_phi": tf.float32,
    "Y": tf.complex64,
    "coords_nominal": tf.float32,
    "coords": tf.float32,
    "coords_true": tf.float32,
    "probe": tf.complex64,
}


def to_tensor(array: Any, dtype: Optional[tf.DType] = None) -> tf.Tensor:
    """``tf.convert_to_tensor`` (used by the compatibility helpers that promise tensors)."""
    return tf.convert_to_tensor(np.asarray(array), dtype=dtype)


class PtychoDataContainerTF:
    """Channels-last TensorFlow view of a :class:`PtychoDataContainer`.

    Tensor attributes (converted on every access): ``X``, ``Y_I``, ``Y_phi``, ``Y``,
    ``coords_nominal`` / ``coords``, ``coords_true``, ``probe``.  NumPy attributes:
    ``nn_indices`` (int64), ``global_offsets`` / ``local_offsets`` (float64),
    ``norm_Y_I`` (float), ``YY_full`` (None).  ``numpy`` is the wrapped container.
    """

    def __init__(self, container: PtychoDataContainer) -> None:
        if isinstance(container, PtychoDataContainerTF):
            container = container.numpy
        if not isinstance(container, PtychoDataContainer):
            raise TypeError(f"expected a PtychoDataContainer; got {type(container).__name__}")
        self.numpy = container

    @classmethod
    def from_grouped(cls, grouped: Any, probe: np.ndarray, nphotons: float) -> "PtychoDataContainerTF":
        """From a ``generate_grouped_data`` dictionary (data §2.3 → §3.1)."""
        return cls(PtychoDataContainer.from_grouped(grouped, probe, nphotons))

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found normally; ``numpy`` itself is an instance attribute.
        if name == "numpy":
            raise AttributeError(name)
        dtype = _TENSOR_DTYPES.get(name)
        value = getattr(self.numpy, name)
        if dtype is None:
            return value
        return tf.convert_to_tensor(value, dtype=dtype)

    def __len__(self) -> int:
        return len(self.numpy)

    def __repr__(self) -> str:
        return f"PtychoDataContainerTF({self.numpy!r})"

    def as_tf_dataset(self, batch_size: int, shuffle: bool = True, *, intensity_scale: Optional[float] = None,
                      seed: Optional[int] = None) -> tf.data.Dataset:
        """Streamed batches ``(s·X, coords_nominal) → (Y_c, s·X, (s·X)²)`` (data §3.1)."""
        return as_tf_dataset(self.numpy, batch_size, shuffle, intensity_scale=intensity_scale, seed=seed)

    def subset(self, index: slice | np.ndarray) -> "PtychoDataContainerTF":
        return type(self)(self.numpy.subset(index))

    def split(self, fraction: float) -> tuple["PtychoDataContainerTF", "PtychoDataContainerTF"]:
        train, test = self.numpy.split(fraction)
        return type(self)(train), type(self)(test)

    def to_npz(self, path: Any) -> None:
        self.numpy.to_npz(path)
