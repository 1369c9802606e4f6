"""Backend-neutral inference model (api spec §3 "Backend-neutral predictor").

``load_inference_bundle`` returns this object for either backend, so callers written
against the original Keras model (``model.predict([s·X, offsets])``) work unchanged
with a PyTorch archive.  It also carries what a correct prediction needs — the
archived intensity scale ``s``, ``N`` and ``gridsize`` — so library code can call
:meth:`predict_normalised` and never has to read ``params.cfg``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ptychopinn_plugin.config import ModelConfig
from ptychopinn_plugin.workflows.backend_ops import DEFAULT_PREDICT_BATCH_SIZE, BackendOps

logger = logging.getLogger(__name__)

__all__ = ["InferencePredictor", "channel_mismatch_error"]


def channel_mismatch_error(model_channels: int, input_channels: int) -> ValueError:
    """The api-spec §3 message for a model/input channel-count mismatch."""
    g = int(round(math.sqrt(model_channels)))
    return ValueError(
        f"model was trained with gridsize={g} ({model_channels} channels) but the input has "
        f"{int(input_channels)} channels; set gridsize to {g}"
    )


class InferencePredictor:
    """``predict([x_channels_last, positions_channels_last]) → complex64 (B, N, N, 1)``.

    ``x`` is the network input ``s·X`` (float32 or float64, NumPy or framework tensor),
    ``positions`` the relative offsets ``(B, 1, 2, C)``.  Attributes: ``model`` (the
    backend's ``diffraction_to_obj``), ``backend``, ``model_config``, ``N``,
    ``gridsize``, ``intensity_scale`` (the archived ``s``), ``batch_size``.
    """

    def __init__(self, model: Any, ops: BackendOps, model_config: ModelConfig, intensity_scale: float,
                 batch_size: int = DEFAULT_PREDICT_BATCH_SIZE, device: str | None = None,
                 precision: str = "auto") -> None:
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ValueError(f"batch_size = {batch_size!r} is invalid; allowed: an integer >= 1")
        scale = float(intensity_scale)
        if not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"intensity_scale = {intensity_scale!r} is invalid; allowed: a finite number > 0")
        self.model = model
        self.ops = ops
        self.model_config = model_config
        self.intensity_scale = scale
        self.batch_size = int(batch_size)
        self.device = device
        """Accelerator for PyTorch models (``'cpu'``, ``'cuda'``, ``'auto'``); None = where the model is."""
        self.precision = precision
        """PyTorch inference precision: 'auto' (default: bf16 where the device computes it
        natively, 2.0× faster end to end on this project's CPU, ``bench_speed.py``),
        '32-true' or 'bf16-mixed'.  TensorFlow predicts in float32."""

    @property
    def backend(self) -> str:
        return self.ops.name

    @property
    def N(self) -> int:  # noqa: N802 - spec name
        return self.model_config.N

    @property
    def gridsize(self) -> int:
        return self.model_config.gridsize

    @property
    def channels(self) -> int:
        return self.model_config.gridsize ** 2

    def __repr__(self) -> str:
        return (f"InferencePredictor(backend={self.backend!r}, N={self.N}, gridsize={self.gridsize}, "
                f"intensity_scale={self.intensity_scale:.6g})")

    def _check(self, x: np.ndarray, positions: np.ndarray) -> None:
        if x.ndim != 4:
            raise ValueError(f"input must be channels-last (B, N, N, C); got shape {x.shape}")
        if x.shape[3] != self.channels:
            raise channel_mismatch_error(self.channels, x.shape[3])
        if x.shape[1] != self.N or x.shape[2] != self.N:
            raise ValueError(f"model expects {self.N}×{self.N} patterns but the input has {x.shape[1]}×{x.shape[2]}")
        if positions.shape != (x.shape[0], 1, 2, x.shape[3]):
            raise ValueError(
                f"positions must have shape (B, 1, 2, C) = {(x.shape[0], 1, 2, x.shape[3])}; got {positions.shape}"
            )

    def predict(self, inputs: Sequence[Any], batch_size: int | None = None, verbose: Any = None,
                **_ignored: Any) -> np.ndarray:
        """Keras-style call: ``inputs = [s·X, positions]`` → complex64 ``(B, N, N, 1)``.

        ``verbose`` and other Keras ``predict`` keywords are accepted and ignored.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("predict expects a list [x (B, N, N, C), positions (B, 1, 2, C)]")
        x = np.asarray(inputs[0])
        positions = np.asarray(inputs[1])
        self._check(x, positions)
        # The input is already s·X: run the backend with a unit scale (x·1 is exact).
        return self.ops.predict(self.model, x, positions, 1.0, batch_size or self.batch_size, device=self.device,
                                precision=self.precision)

    __call__ = predict

    def predict_normalised(self, X_normalised: Any, positions: Any, batch_size: int | None = None) -> np.ndarray:
        """Prediction for normalised amplitudes ``X``: the network input is ``s·X`` with the archived ``s``."""
        x = np.asarray(X_normalised)
        pos = np.asarray(positions)
        self._check(x, pos)
        return self.ops.predict(self.model, x, pos, self.intensity_scale, batch_size or self.batch_size,
                                device=self.device, precision=self.precision)
