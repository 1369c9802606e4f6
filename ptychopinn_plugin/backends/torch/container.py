"""``PtychoDataContainerTorch``: channels-first torch view of the NumPy container (data §3.2).

Every tensor is a pure permutation of the NumPy ``PtychoDataContainer`` array — no sign
change, no x/y swap (finding TORCH-REASSEMBLY-SIGN-001 forbids compensating flips):

| attribute | shape | dtype | from NumPy |
|---|---|---|---|
| ``X``, ``Y_I``, ``Y_phi`` | ``(B, C, N, N)`` | float32 | permuted ``(0, 3, 1, 2)`` |
| ``Y`` | ``(B, C, N, N)`` | complex64 | permuted |
| ``coords_nominal`` (alias ``coords``) | ``(B, C, 1, 2)`` | float32 | ``coords_nominal`` permuted |
| ``coords_true``, ``coords_relative`` | ``(B, C, 1, 2)`` | float32 | ``coords_true`` (grouped ``coords_relative``) permuted |
| ``coords_offsets`` (alias ``global_offsets``) | ``(B, 1, 1, 2)`` | float64 | permuted |
| ``local_offsets`` | ``(B, C, 1, 2)`` | float64 | permuted |
| ``probe`` | ``(N, N)`` | complex64 | raw probe |
| ``nn_indices`` | ``(B, C)`` | int64 | |

Tensors are created on attribute access as zero-copy views of the NumPy arrays (finding
PINN-CHUNKED-001: nothing is duplicated up front); the NumPy container stays available as
:attr:`numpy` for the data module and the framework-neutral layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ptychopinn_plugin.data.container import PtychoDataContainer

__all__ = ["PtychoDataContainerTorch", "to_channels_first", "positions_channels_first"]


def to_channels_first(array: np.ndarray) -> torch.Tensor:
    """``(B, H, W, C)`` NumPy → ``(B, C, H, W)`` torch view (no copy)."""
    return torch.from_numpy(np.asarray(array)).permute(0, 3, 1, 2)


def positions_channels_first(array: np.ndarray) -> torch.Tensor:
    """``(B, 1, 2, C)`` NumPy → ``(B, C, 1, 2)`` torch view (last axis still ``[x, y]``)."""
    return torch.from_numpy(np.asarray(array)).permute(0, 3, 1, 2)


class PtychoDataContainerTorch:
    """Torch view of a :class:`ptychopinn_plugin.data.container.PtychoDataContainer`."""

    def __init__(self, container: PtychoDataContainer) -> None:
        if isinstance(container, PtychoDataContainerTorch):
            container = container.numpy
        if not isinstance(container, PtychoDataContainer):
            raise TypeError(f"expected a PtychoDataContainer; got {type(container).__name__}")
        self.numpy = container

    @classmethod
    def from_grouped(cls, grouped: Any, probe: np.ndarray, nphotons: float) -> "PtychoDataContainerTorch":
        """From a ``generate_grouped_data`` dictionary (data §2.3 → §3.2)."""
        return cls(PtychoDataContainer.from_grouped(grouped, probe, nphotons))

    # ------------------------------------------------------------------ tensors
    @property
    def X(self) -> torch.Tensor:
        return to_channels_first(self.numpy.X)

    @property
    def Y_I(self) -> torch.Tensor:
        return to_channels_first(self.numpy.Y_I)

    @property
    def Y_phi(self) -> torch.Tensor:
        return to_channels_first(self.numpy.Y_phi)

    @property
    def Y(self) -> torch.Tensor:
        return to_channels_first(self.numpy.Y)

    @property
    def coords_nominal(self) -> torch.Tensor:
        return positions_channels_first(self.numpy.coords_nominal)

    @property
    def coords(self) -> torch.Tensor:
        """Alias of ``coords_nominal``."""
        return self.coords_nominal

    @property
    def coords_true(self) -> torch.Tensor:
        return positions_channels_first(self.numpy.coords_true)

    @property
    def coords_relative(self) -> torch.Tensor:
        """Grouped ``coords_relative`` as float32 ``(B, C, 1, 2)`` (= ``coords_true``)."""
        return self.coords_true

    @property
    def coords_offsets(self) -> torch.Tensor:
        return positions_channels_first(self.numpy.global_offsets)

    @property
    def global_offsets(self) -> torch.Tensor:
        """Alias of ``coords_offsets``."""
        return self.coords_offsets

    @property
    def local_offsets(self) -> torch.Tensor:
        return positions_channels_first(self.numpy.local_offsets)

    @property
    def probe(self) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.numpy.probe))

    @property
    def nn_indices(self) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.numpy.nn_indices))

    # ------------------------------------------------------------------ scalars / misc
    @property
    def norm_Y_I(self) -> float:
        return float(self.numpy.norm_Y_I)

    @property
    def nphotons(self) -> float:
        return float(self.numpy.nphotons)

    @property
    def has_ground_truth(self) -> bool:
        return bool(self.numpy.has_ground_truth)

    @property
    def N(self) -> int:
        return int(self.numpy.X.shape[1])

    @property
    def channels(self) -> int:
        return int(self.numpy.X.shape[3])

    def __len__(self) -> int:
        return len(self.numpy)

    def __repr__(self) -> str:
        return f"PtychoDataContainerTorch(B={len(self)}, C={self.channels}, N={self.N}, ground_truth={self.has_ground_truth})"

    def subset(self, index: slice | np.ndarray) -> "PtychoDataContainerTorch":
        return PtychoDataContainerTorch(self.numpy.subset(index))

    def split(self, fraction: float) -> tuple["PtychoDataContainerTorch", "PtychoDataContainerTorch"]:
        """``(train, test)``: the first ``int(B·fraction)`` groups, then the rest."""
        train, test = self.numpy.split(fraction)
        return PtychoDataContainerTorch(train), PtychoDataContainerTorch(test)
