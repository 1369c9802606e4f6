"""Small, registered, serialisable Keras layers used by the generator network.

Every custom layer of the models is a registered class (package ``ptychopinn``) with a
``get_config``, so ``.keras`` files load with ``safe_mode=True`` and no Lambda layer is
ever needed (api spec §7.4).  Physics layers live in :mod:`.physics_layers`.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ptychopinn_plugin.physics.geometry import border_mask

PACKAGE = "ptychopinn"

__all__ = [
    "PACKAGE",
    "ChannelSlice",
    "ScaledTanh",
    "BorderMask",
    "IntensityScaler",
    "Square",
    "InputScale",
    "IgnoreSecondInput",
    "AddCoords",
    "LogInput",
    "ModulusProjection",
]


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelSlice(keras.layers.Layer):
    """``x[..., start:stop]`` (Python slice semantics, negative indices allowed).

    The pad_object decoder feeds the first ``32k − 4`` base channels to the object
    convolution and the last 4 to the probe_big border branch (physics §4.3).
    """

    def __init__(self, start: int | None = None, stop: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = None if start is None else int(start)
        self.stop = None if stop is None else int(stop)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x[..., self.start : self.stop]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[-1]
        if channels is None:
            return (*input_shape[:-1], None)
        return (*input_shape[:-1], len(range(channels)[self.start : self.stop]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledTanh(keras.layers.Layer):
    """``scale · tanh(x)``; the phase activation is ``π·tanh`` (physics §4.3)."""

    def __init__(self, scale: float = math.pi, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.scale * tf.tanh(x)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BorderMask(keras.layers.Layer):
    """Multiply ``(B, N, N, C)`` by the border mask ``1 − W`` (0 on ``[N/4, 3N/4)²``).

    Confines the probe_big branch to the region outside the object window (§4.3).
    """

    def __init__(self, N: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)
        self._mask = tf.constant(border_mask(self.N, dtype=np.float32)[None, :, :, None])

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x * self._mask

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IntensityScaler(keras.layers.Layer):
    """The global log intensity scale ``w`` (physics §4.3 step 2, §8 item 6).

    One instance is called twice: ``scaler(x)`` returns ``x / exp(w)`` (network input)
    and ``scaler(a, inverse=True)`` returns ``exp(w) · a`` (predicted amplitude), so the
    same variable is used in both places without shared-variable tricks.  ``w`` is a
    real weight, initialised to ``log s`` and trainable iff ``scale_trainable`` (the
    original's untracked variable never trained, physics §15 item 9).
    """

    def __init__(self, initial_scale: float = 1.0, scale_trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        initial_scale = float(initial_scale)
        if not math.isfinite(initial_scale) or initial_scale <= 0:
            raise ValueError(f"IntensityScaler: initial_scale must be a finite number > 0; got {initial_scale!r}")
        self.initial_scale = initial_scale
        self.scale_trainable = bool(scale_trainable)
        self.log_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(initial_scale)),
            trainable=self.scale_trainable,
            name="log_scale",
            dtype="float32",
        )

    def call(self, x: tf.Tensor, inverse: bool = False) -> tf.Tensor:
        gain = tf.exp(tf.cast(self.log_scale, x.dtype))
        return x * gain if inverse else x / gain

    def compute_output_spec(self, x: Any, inverse: bool = False) -> keras.KerasTensor:
        return keras.KerasTensor(x.shape, dtype=x.dtype)

    def scale(self) -> float:
        """Current ``exp(w)``."""
        return float(np.exp(np.float64(keras.ops.convert_to_numpy(self.log_scale))))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_scale": self.initial_scale,
            "scale_trainable": self.scale_trainable,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Square(keras.layers.Layer):
    """``x²``: predicted intensity from the scaled amplitude (physics §8 item 7)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.square(x)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class InputScale(keras.layers.Layer):
    """``x / divisor`` with a fixed (non-trainable, serialised) divisor.

    The supervised model receives ``s·X`` like the PINN and divides by the stored ``s``
    so the network sees ``X`` (physics §9).
    """

    def __init__(self, divisor: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        divisor = float(divisor)
        if not math.isfinite(divisor) or divisor <= 0:
            raise ValueError(f"InputScale: divisor must be a finite number > 0; got {divisor!r}")
        self.divisor = divisor

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x / tf.constant(self.divisor, dtype=x.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "divisor": self.divisor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IgnoreSecondInput(keras.layers.Layer):
    """Return the first input unchanged; the second is accepted and ignored.

    Keeps the supervised ``diffraction_to_obj`` on the PINN signature
    ``[input, input_positions]`` (physics §9) with both inputs connected to the graph.
    """

    def call(self, x: tf.Tensor, ignored: tf.Tensor) -> tf.Tensor:
        return x

    def compute_output_spec(self, x: Any, ignored: Any) -> keras.KerasTensor:
        return keras.KerasTensor(x.shape, dtype=x.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddCoords(keras.layers.Layer):
    """Append two channels: the row coordinate then the column coordinate, each running
    linearly over [−1, 1] across the image (the 'resnet' decoder's position input; torch
    ``network_resnet._with_coords``)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(x)
        b, h, w = shape[0], shape[1], shape[2]
        ys = tf.cast(tf.linspace(-1.0, 1.0, h), x.dtype)
        xs = tf.cast(tf.linspace(-1.0, 1.0, w), x.dtype)
        grid_y = tf.broadcast_to(tf.reshape(ys, (1, -1, 1, 1)), tf.stack([b, h, w, 1]))
        grid_x = tf.broadcast_to(tf.reshape(xs, (1, 1, -1, 1)), tf.stack([b, h, w, 1]))
        return tf.concat([x, grid_y, grid_x], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels + 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LogInput(keras.layers.Layer):
    """``log(1 + max(x, 0)/ε)``: the 'resnet' generator's input compression (torch
    ``ResidualPINNGenerator.forward``)."""

    def __init__(self, epsilon: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.log1p(tf.nn.relu(x) / self.epsilon)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


PROBE_REGULARISATION = 1e-2


@keras.saving.register_keras_serializable(package=PACKAGE)
class ModulusProjection(keras.layers.Layer):
    """The 'resnet' generator's physics first guess (torch ``network_resnet.ModulusProjection``):
    ``ψ = N·IDFT2(ifftshift(x)·e^{i∠DFT2(P)})``, ``Ô = ψ·P*/(|P|² + δ)`` with δ = 1e-2·max|P|²,
    divided per pattern by its mean magnitude where |P| > 0.1·max|P|; output channels-last
    ``(B, N, N, 2C)``, real part of member c at ``2c``, imaginary at ``2c + 1``.

    The probe is part of the layer's config (plain lists of floats), so a saved model
    needs no extra weights and loads with ``safe_mode=True``.
    """

    def __init__(self, probe_real: Any, probe_imag: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe_real = np.asarray(probe_real, dtype=np.float32)
        self.probe_imag = np.asarray(probe_imag, dtype=np.float32)
        probe = self.probe_real.astype(np.complex64) + 1j * self.probe_imag.astype(np.complex64)
        spectrum = np.fft.fft2(probe)
        magnitude = np.abs(spectrum)
        phase_factor = np.where(magnitude > 0, spectrum / np.maximum(magnitude, 1e-30), 1.0)
        power = np.abs(probe) ** 2
        inverse = np.conj(probe) / (power + PROBE_REGULARISATION * power.max())
        lit = (np.abs(probe) > 0.1 * np.abs(probe).max()).astype(np.float32)
        self.N = int(probe.shape[-1])
        self._phase_factor = tf.constant(phase_factor.astype(np.complex64))
        self._inverse = tf.constant(inverse.astype(np.complex64))
        self._lit = tf.constant(lit)
        self._lit_count = float(lit.sum())

    def call(self, x: tf.Tensor) -> tf.Tensor:
        x = tf.transpose(tf.cast(x, tf.float32), (0, 3, 1, 2))  # (B, C, N, N): FFT over the last two axes
        spectrum = tf.cast(tf.signal.ifftshift(x, axes=(-2, -1)), tf.complex64) * self._phase_factor
        estimate = tf.signal.ifft2d(spectrum) * tf.cast(float(self.N), tf.complex64) * self._inverse
        magnitude = tf.abs(estimate)
        scale = tf.reduce_sum(magnitude * self._lit, axis=(-2, -1), keepdims=True) / self._lit_count
        estimate = estimate / tf.cast(scale + 1e-12, tf.complex64)
        parts = tf.stack([tf.math.real(estimate), tf.math.imag(estimate)], axis=2)  # (B, C, 2, N, N)
        shape = tf.shape(parts)
        parts = tf.reshape(parts, tf.stack([shape[0], shape[1] * 2, self.N, self.N]))
        return tf.transpose(parts, (0, 2, 3, 1))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else 2 * channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "probe_real": self.probe_real.tolist(), "probe_imag": self.probe_imag.tolist()}
