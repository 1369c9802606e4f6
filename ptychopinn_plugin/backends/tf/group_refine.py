"""Group-local error reduction inside the PINN (``ModelConfig.group_refine_iterations``), Keras.

The same iterations as the PyTorch backend's ``group_refine`` module (its docstring says
why and gives the formulas; NumPy reference:
:func:`ptychopinn_plugin.physics.group_refine.group_error_reduction`).  Two layers, no
weights of their own, so the probe stays the one of the model's ``ProbeIllumination``
(trainable or not) and ``.keras`` files rebuild them from their config alone:

* :class:`UnitPatch` — a ``(1, N, N, 1)`` complex ones patch; the model passes it through
  its own ``ProbeIllumination`` to get the effective probe ``P_e = L(P)``;
* :class:`GroupRefinement` — ``K`` iterations on the canvas ``(B, P, P, 1)`` against the
  measured amplitudes in the object's gauge ``(B, N, N, C)``.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from ptychopinn_plugin.physics.group_refine import MODULUS_EPSILON, REFINE_REGULARISATION

from .layers import PACKAGE
from .physics_layers import flatten_positions
from .translation import sample_shifted

__all__ = ["GroupRefinement", "UnitPatch"]


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnitPatch(keras.layers.Layer):
    """``(1, N, N, 1)`` complex64 ones, whatever the input (a graph anchor for ``L(P)``)."""

    def __init__(self, N: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)

    def call(self, anchor: tf.Tensor) -> tf.Tensor:
        del anchor
        return tf.ones([1, self.N, self.N, 1], dtype=tf.complex64)

    def compute_output_spec(self, anchor: Any) -> keras.KerasTensor:
        return keras.KerasTensor((1, self.N, self.N, 1), dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupRefinement(keras.layers.Layer):
    """``K`` error-reduction iterations on each group's canvas (module docstring)."""

    def __init__(self, N: int, canvas_size: int, channels: int, iterations: int, momentum: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)
        self.canvas_size = int(canvas_size)
        self.channels = int(channels)
        self.iterations = int(iterations)
        if self.iterations < 0:
            raise ValueError(f"GroupRefinement: iterations must be >= 0; got {iterations}")
        self.momentum = float(momentum)  # .keras files written before the field read as 0
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"GroupRefinement: momentum must be in [0, 1); got {momentum}")

    def call(self, canvas: tf.Tensor, amplitude: tf.Tensor, positions: tf.Tensor, probe: tf.Tensor) -> tf.Tensor:
        if self.iterations == 0:
            return canvas
        n, p, c = self.N, self.canvas_size, self.channels
        margin = (p - n) // 2
        shifts = flatten_positions(tf.cast(positions, tf.float32))
        dx, dy = shifts[:, 0], shifts[:, 1]
        probe = tf.transpose(tf.cast(probe, tf.complex64), [0, 3, 1, 2])  # (1, 1, N, N)
        batch = tf.shape(canvas)[0]

        def merge(values: tf.Tensor) -> tf.Tensor:  # (B·C, N, N, D) real → (B, P, P, D)
            moved = sample_shifted(values, dy - margin, dx - margin, (p, p))
            return tf.reduce_sum(tf.reshape(moved, [-1, c, p, p, values.shape[-1]]), axis=1)

        power = tf.math.real(probe) ** 2 + tf.math.imag(probe) ** 2  # (1, 1, N, N)
        weight = merge(tf.broadcast_to(tf.reshape(power, [1, n, n, 1]), [batch * c, n, n, 1]))[..., 0]
        weight = weight + REFINE_REGULARISATION * tf.reduce_max(weight, axis=[1, 2], keepdims=True)
        target = tf.signal.ifftshift(tf.transpose(tf.cast(amplitude, tf.float32), [0, 3, 1, 2]), axes=(2, 3))
        target = target * float(n)  # (B, C, N, N)
        eps = MODULUS_EPSILON * tf.reduce_mean(target, axis=[2, 3], keepdims=True) + 1e-12
        conj_probe = tf.math.conj(probe)
        u = canvas[..., 0]
        previous = u
        beta = tf.constant(self.momentum, tf.complex64)
        for _ in range(self.iterations):
            start = u + beta * (u - previous) if self.momentum else u
            stacked = tf.repeat(tf.stack([tf.math.real(start), tf.math.imag(start)], axis=-1), c, axis=0)
            patches = sample_shifted(stacked, margin - dy, margin - dx, (n, n))  # (B·C, N, N, 2)
            z = tf.reshape(tf.complex(patches[..., 0], patches[..., 1]), [-1, c, n, n])
            psi = probe * z
            spectrum = tf.signal.fft2d(psi)
            re, im = tf.math.real(spectrum), tf.math.imag(spectrum)
            scale = target / tf.sqrt(re * re + im * im + eps * eps)
            projected = tf.signal.ifft2d(spectrum * tf.cast(scale, tf.complex64))
            delta = tf.reshape(conj_probe * (projected - psi), [-1, n, n])
            update = merge(tf.stack([tf.math.real(delta), tf.math.imag(delta)], axis=-1))
            previous, u = u, start + tf.complex(update[..., 0] / weight, update[..., 1] / weight)
        return u[..., None]

    def compute_output_spec(self, canvas: Any, amplitude: Any, positions: Any, probe: Any) -> keras.KerasTensor:
        return keras.KerasTensor(canvas.shape, dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N, "canvas_size": self.canvas_size, "channels": self.channels,
                "iterations": self.iterations, "momentum": self.momentum}
