"""Framework-neutral model-ready container (data spec §3.1 semantics, NumPy, channels-last).

The TensorFlow and PyTorch backends build their tensor views on top of this class
(conversion on attribute access, finding PINN-CHUNKED-001), so it must stay free of
any framework import.  Ground-truth amplitude/phase arrays are derived lazily: a
dataset without ``Y`` should not pay for three dummy arrays until someone asks.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any, Callable, Mapping

import numpy as np

from ptychopinn_plugin.data.npz_io import NpzReader, write_npz
from ptychopinn_plugin.data.validation import canonical_probe

logger = logging.getLogger(__name__)


class PtychoDataContainer:
    """Grouped, normalised data ready for a model.

    Attributes (``B`` groups, ``C`` channels):

    * ``X`` ``(B, N, N, C)`` float32 — normalised amplitudes (``X_full``);
    * ``Y_I``, ``Y_phi`` ``(B, N, N, C)`` float32 — ``|Y|``/``angle(Y)``; ones/zeros
      without ground truth (``has_ground_truth`` False); ``Y`` complex64;
    * ``coords_nominal`` (alias ``coords``) ``(B, 1, 2, C)`` float32 —
      ``coords_start_relative`` (fallback ``coords_relative``); ``coords_true`` float32 —
      ``coords_relative``;
    * ``probe`` ``(N, N)`` complex64 (raw, not normalised); ``nn_indices`` ``(B, C)`` int64;
    * ``global_offsets`` ``(B, 1, 2, 1)`` / ``local_offsets`` ``(B, 1, 2, C)`` float64;
    * ``norm_Y_I = sqrt(nphotons / mean_{b,c} Σ_ij X²)`` (float, = ``sqrt(nphotons)/(N/2)``); ``YY_full = None``.
    """

    YY_full = None

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray | None,
        coords_nominal: np.ndarray,
        coords_true: np.ndarray,
        probe: np.ndarray,
        nn_indices: np.ndarray,
        global_offsets: np.ndarray,
        local_offsets: np.ndarray,
        nphotons: float,
        *,
        norm_Y_I: float | None = None,
    ) -> None:
        x = np.asarray(X)
        if x.ndim != 4:
            raise ValueError(f"X must be (B, N, N, C); got shape {x.shape}")
        self.X = x.astype(np.float32, copy=False)
        b, n, _, c = self.X.shape
        if Y is not None:
            y = np.asarray(Y)
            if y.ndim != 4 or y.shape[3] != c:
                raise ValueError(
                    f"channel mismatch: X has shape {self.X.shape} ({c} channels) but Y has shape {y.shape}"
                )
            if y.shape[:3] != self.X.shape[:3]:
                raise ValueError(f"Y shape {y.shape} does not match X shape {self.X.shape}")
            self._Y: np.ndarray | None = y.astype(np.complex64, copy=False)
        else:
            self._Y = None
        self.coords_nominal = _coords(coords_nominal, "coords_nominal", (b, 1, 2, c), np.float32)
        self.coords_true = _coords(coords_true, "coords_true", (b, 1, 2, c), np.float32)
        self.global_offsets = _coords(global_offsets, "global_offsets", (b, 1, 2, 1), np.float64)
        self.local_offsets = _coords(local_offsets, "local_offsets", (b, 1, 2, c), np.float64)
        nn = np.asarray(nn_indices)
        if nn.shape != (b, c):
            raise ValueError(f"nn_indices must have shape {(b, c)}; got {nn.shape}")
        self.nn_indices = nn.astype(np.int64, copy=False)
        self.probe = canonical_probe(probe, n, source="PtychoDataContainer")
        if isinstance(nphotons, bool) or not np.isfinite(float(nphotons)) or float(nphotons) <= 0:
            raise ValueError(f"nphotons = {nphotons!r} is invalid; allowed: a finite number > 0")
        self.nphotons = float(nphotons)
        self.norm_Y_I = float(norm_Y_I) if norm_Y_I is not None else _norm_y_i(self.X, self.nphotons)
        self._Y_I: np.ndarray | None = None
        self._Y_phi: np.ndarray | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_grouped(cls, grouped: Mapping[str, Any], probe: np.ndarray, nphotons: float) -> "PtychoDataContainer":
        """Container from a ``generate_grouped_data`` dictionary (data §2.3 → §3.1)."""
        if grouped.get("X_full") is None:
            raise ValueError("grouped data carry no diffraction (X_full is None); cannot build a container")
        nominal = grouped.get("coords_start_relative")
        if nominal is None:
            nominal = grouped["coords_relative"]
        return cls(
            X=grouped["X_full"], Y=grouped.get("Y"), coords_nominal=nominal,
            coords_true=grouped["coords_relative"], probe=probe, nn_indices=grouped["nn_indices"],
            global_offsets=grouped["coords_offsets"], local_offsets=grouped["coords_relative"],
            nphotons=nphotons,
        )

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str]) -> "PtychoDataContainer":
        """Read back a file written by :meth:`to_npz`."""
        with NpzReader(path) as reader:
            arrays = {key: reader.read(key) for key in reader.keys}
        has_gt = bool(arrays.get("has_ground_truth", np.array(True)))
        y = arrays["Y_I"] * np.exp(1j * arrays["Y_phi"]) if has_gt else None
        nphotons = float(arrays["nphotons"]) if "nphotons" in arrays else 1.0
        return cls(
            X=arrays["X"], Y=y, coords_nominal=arrays["coords_nominal"], coords_true=arrays["coords_true"],
            probe=arrays["probe"], nn_indices=arrays["nn_indices"], global_offsets=arrays["global_offsets"],
            local_offsets=arrays["local_offsets"], nphotons=nphotons, norm_Y_I=float(arrays["norm_Y_I"]),
        )

    # ------------------------------------------------------------------ ground truth
    @property
    def has_ground_truth(self) -> bool:
        """False when ``Y`` is the dummy (ones/zeros): real-space losses must be disabled."""
        return self._Y is not None

    @property
    def Y_I(self) -> np.ndarray:
        if self._Y_I is None:
            self._Y_I = (np.abs(self._Y).astype(np.float32) if self._Y is not None
                         else np.ones(self.X.shape, dtype=np.float32))
        return self._Y_I

    @property
    def Y_phi(self) -> np.ndarray:
        if self._Y_phi is None:
            self._Y_phi = (np.angle(self._Y).astype(np.float32) if self._Y is not None
                           else np.zeros(self.X.shape, dtype=np.float32))
        return self._Y_phi

    @property
    def Y(self) -> np.ndarray:
        """complex64 ``Y_I·exp(i·Y_phi)`` (the stored patches; ones without ground truth)."""
        if self._Y is None:
            return np.ones(self.X.shape, dtype=np.complex64)
        return self._Y

    # ------------------------------------------------------------------ misc
    @property
    def coords(self) -> np.ndarray:
        """Alias of ``coords_nominal``."""
        return self.coords_nominal

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        return (f"PtychoDataContainer(B={len(self)}, X={self.X.shape}, ground_truth={self.has_ground_truth}, "
                f"norm_Y_I={self.norm_Y_I:.6g})")

    def subset(self, index: slice | np.ndarray) -> "PtychoDataContainer":
        """Groups ``index`` as a new container (norm_Y_I recomputed from its own X)."""
        return type(self)(
            X=self.X[index], Y=None if self._Y is None else self._Y[index],
            coords_nominal=self.coords_nominal[index], coords_true=self.coords_true[index], probe=self.probe,
            nn_indices=self.nn_indices[index], global_offsets=self.global_offsets[index],
            local_offsets=self.local_offsets[index], nphotons=self.nphotons,
        )

    def split(self, fraction: float) -> tuple["PtychoDataContainer", "PtychoDataContainer"]:
        """``(train, test)``: the first ``int(B·fraction)`` groups, then the rest."""
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"train fraction = {fraction!r} is invalid; allowed: a number in [0, 1]")
        cut = int(len(self) * fraction)
        return self.subset(slice(0, cut)), self.subset(slice(cut, len(self)))

    def to_npz(self, path: str | os.PathLike[str]) -> None:
        """Atomic, pickle-free dump (data §3.1; plus ``nphotons`` and ``has_ground_truth``)."""
        write_npz(path, {
            "X": self.X, "Y_I": self.Y_I, "Y_phi": self.Y_phi, "norm_Y_I": np.float64(self.norm_Y_I),
            "coords_nominal": self.coords_nominal, "coords_true": self.coords_true,
            "nn_indices": self.nn_indices, "global_offsets": self.global_offsets,
            "local_offsets": self.local_offsets, "probe": self.probe,
            "nphotons": np.float64(self.nphotons), "has_ground_truth": np.bool_(self.has_ground_truth),
        })


def _coords(value: Any, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {arr.shape}")
    return arr.astype(dtype, copy=False)


def _norm_y_i(x: np.ndarray, nphotons: float) -> float:
    """``sqrt(nphotons / mean_{b,c} Σ_ij X²)`` in float64 (NaN for an empty container).

    The mean runs over patterns (groups × channels) so that the value equals the
    intensity scale ``sqrt(nphotons)/(N/2)`` for freshly normalised data, as data §3.1
    and physics §7 state; summing over channels too would be off by ``sqrt(C)``.
    """
    if x.shape[0] == 0:
        return math.nan
    total = 0.0
    step = max(1, (1 << 23) // max(1, int(np.prod(x.shape[1:]))))
    for start in range(0, x.shape[0], step):
        chunk = x[start:start + step].astype(np.float64)
        total += float(np.einsum("bijc,bijc->", chunk, chunk))
    mean = total / (x.shape[0] * x.shape[3])
    if mean <= 0:
        raise ValueError("X is all zeros; cannot compute norm_Y_I")
    return math.sqrt(nphotons / mean)


def loader_load(
    cb: Callable[[], Any],
    probeGuess: np.ndarray,
    which: str | None,
    create_split: bool,
    nphotons: float | None = None,
    *,
    container_cls: type[PtychoDataContainer] | None = None,
) -> PtychoDataContainer:
    """``loader.load`` semantics (data §3.1), NumPy only.

    ``cb()`` returns the grouped dict, or ``(dict, train_fraction)`` when
    ``create_split``; then ``which`` selects ``'train'`` (first ``int(B·fraction)``
    groups) or ``'test'`` (the rest); any other ``which`` → ``ValueError``.  Without a
    split, ``which`` is ignored.  ``nphotons=None`` reads ``legacy_params.cfg['nphotons']``
    (compatibility only; library code passes it).  ``container_cls`` lets a backend
    get its own subclass (its ``__init__`` must keep this class's signature, because
    ``split``/``subset`` rebuild through ``type(self)``).
    """
    cls = PtychoDataContainer if container_cls is None else container_cls
    if create_split and which not in ("train", "test"):
        raise ValueError(f"which = {which!r} is invalid with create_split=True; allowed: 'train' or 'test'")
    if nphotons is None:
        from ptychopinn_plugin.config import legacy_params

        nphotons = float(legacy_params.cfg["nphotons"])
    result = cb()
    if create_split:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError("with create_split=True the callback must return (grouped_dict, train_fraction)")
        grouped, fraction = result
        train, test = cls.from_grouped(grouped, probeGuess, nphotons).split(fraction)
        return train if which == "train" else test
    return cls.from_grouped(result, probeGuess, nphotons)
