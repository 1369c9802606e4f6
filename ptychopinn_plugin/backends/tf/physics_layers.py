"""Physics inside the PINN (physics §5, §6.2, §8) as registered Keras layers.

Tensors between layers are channels-last: complex object patches ``(B, N, N, C)``,
merged canvases ``(B, P, P, 1)``, positions ``r`` ``(B, 1, 2, C)`` with axis 2 =
``[x, y]``.  Per-channel work is done on channel-flattened stacks in group-major order
(flat index ``b·C + c``, §2.3) and reshaped back.

Translations use :func:`.translation.sample_shifted` directly on the unpadded patches
(merge) or the canvas (extraction).  Sampling ``O`` at ``(i + r_y − o, j + r_x − o)``
with per-corner zero fill is *identical* to ``T_{−r}(pad_P(O))`` (a corner outside
``O`` reads 0 either way), and sampling the canvas at ``(o − r_y + i, o − r_x + j)`` for
``i, j < N`` is identical to ``crop_N(T_r(U))``; fusing saves the padded copies.
``o = (P − N)/2``.

Numerically delicate points keep the exact forward values but define the gradient at
exact zeros as 0 (``sqrt`` of a zero intensity, ``|z|`` and ``angle(z)`` of a zero
pixel); the plain ops would give inf/NaN gradients there (e.g. outside the object
window when ``probe_big`` is False).
"""

from __future__ import annotations

from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from ptychopinn_plugin.physics.geometry import central_window
from ptychopinn_plugin.physics.object_big import MERGE_EPSILON
from ptychopinn_plugin.physics.probe import probe_mask as numpy_probe_mask
from ptychopinn_plugin.physics.probe import smoothing_kernel

from .layers import PACKAGE
from .translation import sample_shifted

__all__ = [
    "AmpPhaseToComplex",
    "ObjectAssembly",
    "TrimObject",
    "ExtractPatches",
    "ProbeIllumination",
    "FarFieldAmplitude",
    "flatten_positions",
    "safe_sqrt",
    "safe_abs_angle",
]


# ----------------------------------------------------------------------------- helpers
def flatten_positions(positions: tf.Tensor) -> tf.Tensor:
    """``(B, 1, 2, C)`` → ``(B·C, 2)`` rows ``(x, y)`` in group-major order."""
    positions = tf.convert_to_tensor(positions)
    return tf.reshape(tf.transpose(positions[:, 0], [0, 2, 1]), [-1, 2])


def flatten_channels(x: tf.Tensor) -> tf.Tensor:
    """``(B, H, W, C)`` → ``(B·C, H, W)`` group-major."""
    shape = tf.shape(x)
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, shape[1], shape[2]])


def unflatten_channels(x: tf.Tensor, channels: int) -> tf.Tensor:
    """``(B·C, H, W)`` → ``(B, H, W, C)``."""
    shape = tf.shape(x)
    return tf.transpose(tf.reshape(x, [-1, channels, shape[1], shape[2]]), [0, 2, 3, 1])


def safe_sqrt(x: tf.Tensor) -> tf.Tensor:
    """``sqrt(x)`` for ``x ≥ 0`` with gradient 0 (not inf) where ``x == 0``."""
    positive = x > 0
    return tf.where(positive, tf.sqrt(tf.where(positive, x, tf.ones_like(x))), tf.zeros_like(x))


def safe_abs_angle(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``(|z|, angle(z))`` of a complex tensor with the standard values, and zero (not
    NaN) gradients at ``z == 0``."""
    re = tf.math.real(z)
    im = tf.math.imag(z)
    nonzero = tf.logical_or(tf.not_equal(re, 0), tf.not_equal(im, 0))
    safe_re = tf.where(nonzero, re, tf.ones_like(re))
    safe_im = tf.where(nonzero, im, tf.zeros_like(im))
    magnitude = tf.where(nonzero, tf.sqrt(safe_re * safe_re + safe_im * safe_im), tf.zeros_like(re))
    # At z == 0 keep the standard value of angle (atan2 of signed zeros: 0 or ±π, as
    # NumPy/TF/torch give it) but no gradient.
    phase = tf.where(nonzero, tf.math.atan2(safe_im, safe_re), tf.stop_gradient(tf.math.angle(z)))
    return magnitude, phase


def _check_channels(layer: str, got: Optional[int], expected: int, what: str) -> None:
    if got is not None and got != expected:
        raise ValueError(f"{layer}: {what} has {got} channels but {expected} were expected")


# ----------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package=PACKAGE)
class AmpPhaseToComplex(keras.layers.Layer):
    """``O = A·exp(i·φ)`` as complex64 (physics §4.3 step 5; not ``A + iφ``)."""

    def call(self, amplitude: tf.Tensor, phase: tf.Tensor) -> tf.Tensor:
        amplitude = tf.cast(amplitude, tf.float32)
        phase = tf.cast(phase, tf.float32)
        return tf.complex(amplitude * tf.cos(phase), amplitude * tf.sin(phase))

    def compute_output_spec(self, amplitude: Any, phase: Any) -> keras.KerasTensor:
        return keras.KerasTensor(amplitude.shape, dtype="complex64")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ObjectAssembly(keras.layers.Layer):
    """Group canvas ``U_b`` ``(B, P, P, 1)`` complex64 (physics §5).

    ``object_big``: ``U_b = S_b / (K_b + 0.001)`` with ``S_b = Σ_c T_{−r}(pad_P(O_{b,c}))``
    and ``K_b = Σ_c T_{−r}(pad_P(W))``, each group on its own canvas (sums over the
    channel axis of one group only — never across groups, whatever the batch size).
    Otherwise ``U_b = pad_P(O_b)`` from one object channel.
    """

    def __init__(self, N: int, canvas_size: int, channels: int, object_big: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)
        self.canvas_size = int(canvas_size)
        self.channels = int(channels)
        self.object_big = bool(object_big)
        if self.canvas_size < self.N or (self.canvas_size - self.N) % 2:
            raise ValueError(
                f"ObjectAssembly: canvas_size P = {self.canvas_size} must be >= N = {self.N} with an even "
                "difference (P - N) so the patch sits centrally on the canvas"
            )
        self._window = tf.constant(central_window(self.N, dtype=np.float32))

    def call(self, patches: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        n, p = self.N, self.canvas_size
        margin = (p - n) // 2
        if not self.object_big:
            _check_channels(self.name, patches.shape[-1], 1, "the object (object_big=False)")
            pad = [[0, 0], [margin, margin], [margin, margin], [0, 0]]
            return tf.pad(patches, pad)
        _check_channels(self.name, patches.shape[-1], self.channels, "the object")
        _check_channels(self.name, positions.shape[-1], self.channels, "input_positions")
        flat = flatten_channels(patches)  # (B·C, N, N) complex
        shifts = flatten_positions(tf.cast(positions, tf.float32))  # r as (x, y)
        count = tf.shape(flat)[0]
        window = tf.broadcast_to(self._window[None], [count, n, n])
        stacked = tf.stack([tf.math.real(flat), tf.math.imag(flat), window], axis=-1)
        # T_{-r}(pad_P(.)) sampled directly: source (i + r_y - o, j + r_x - o).
        moved = sample_shifted(stacked, shifts[:, 1] - margin, shifts[:, 0] - margin, (p, p))
        per_group = tf.reduce_sum(tf.reshape(moved, [-1, self.channels, p, p, 3]), axis=1)
        denominator = per_group[..., 2] + MERGE_EPSILON
        canvas = tf.complex(per_group[..., 0] / denominator, per_group[..., 1] / denominator)
        return canvas[..., None]

    def compute_output_spec(self, patches: Any, positions: Any) -> keras.KerasTensor:
        return keras.KerasTensor((patches.shape[0], self.canvas_size, self.canvas_size, 1), dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "N": self.N,
            "canvas_size": self.canvas_size,
            "channels": self.channels,
            "object_big": self.object_big,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrimObject(keras.layers.Layer):
    """``trimmed_obj = crop_N(U)``: the central ``N×N`` of the canvas (physics §5)."""

    def __init__(self, N: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)

    def call(self, canvas: tf.Tensor) -> tf.Tensor:
        p = canvas.shape[1]
        margin = (p - self.N) // 2
        return canvas[:, margin : margin + self.N, margin : margin + self.N, :]

    def compute_output_spec(self, canvas: Any) -> keras.KerasTensor:
        return keras.KerasTensor((canvas.shape[0], self.N, self.N, canvas.shape[3]), dtype=canvas.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExtractPatches(keras.layers.Layer):
    """Patches seen by the probe: ``Z_{b,c} = crop_N(T_{r_{b,c}}(U_b))`` → ``(B, N, N, C)``.

    Channel ``c`` reads the canvas region centred on ``q_b − r_{b,c} = p_{b,c}``: the
    exact inverse of the merge's ``−r`` (physics §5, finding TORCH-REASSEMBLY-SIGN-001).
    """

    def __init__(self, N: int, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)
        self.channels = int(channels)

    def call(self, canvas: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        _check_channels(self.name, positions.shape[-1], self.channels, "input_positions")
        p = canvas.shape[1]
        margin = (p - self.N) // 2
        shifts = flatten_positions(tf.cast(positions, tf.float32))
        stacked = tf.stack([tf.math.real(canvas[..., 0]), tf.math.imag(canvas[..., 0])], axis=-1)
        repeated = tf.repeat(stacked, self.channels, axis=0)  # (B·C, P, P, 2), group-major
        # crop_N(T_r(U)) sampled directly: source (o - r_y + i, o - r_x + j).
        patches = sample_shifted(repeated, margin - shifts[:, 1], margin - shifts[:, 0], (self.N, self.N))
        return unflatten_channels(tf.complex(patches[..., 0], patches[..., 1]), self.channels)

    def compute_output_spec(self, canvas: Any, positions: Any) -> keras.KerasTensor:
        return keras.KerasTensor((canvas.shape[0], self.N, self.N, self.channels), dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N, "channels": self.channels}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ProbeIllumination(keras.layers.Layer):
    """``ψ = P ⊙ Z``, then optional 3×3 Gaussian smoothing, then optional mask (physics §6.2).

    The probe is stored as two float32 weights ``probe_real``/``probe_imag`` of shape
    ``(1, N, N, 1)`` (Keras 3 handles complex variables poorly, §6.4), shared by all
    channels and trainable iff ``probe_trainable``.  The probe values are weights, not
    config: a layer rebuilt from its config gets them from the saved weights.
    Smoothing pads with ``REFLECT`` (edge pixel not repeated, like ``numpy.pad``'s
    ``'reflect'``) and sums the nine shifted copies, real and imaginary parts alike.
    """

    def __init__(
        self,
        N: int,
        probe_trainable: bool = False,
        gaussian_smoothing_sigma: float = 0.0,
        probe_mask: bool = False,
        initial_probe: Optional[np.ndarray] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.N = int(N)
        self.probe_trainable = bool(probe_trainable)
        self.gaussian_smoothing_sigma = float(gaussian_smoothing_sigma)
        if not np.isfinite(self.gaussian_smoothing_sigma) or self.gaussian_smoothing_sigma < 0:
            raise ValueError(
                f"ProbeIllumination: gaussian_smoothing_sigma must be >= 0; got {gaussian_smoothing_sigma!r}"
            )
        self.probe_mask = bool(probe_mask)
        self.probe_real = self.add_weight(
            shape=(1, self.N, self.N, 1), initializer="zeros", trainable=self.probe_trainable,
            name="probe_real", dtype="float32",
        )
        self.probe_imag = self.add_weight(
            shape=(1, self.N, self.N, 1), initializer="zeros", trainable=self.probe_trainable,
            name="probe_imag", dtype="float32",
        )
        if initial_probe is not None:
            self.set_probe(initial_probe)
        self._mask = tf.constant(numpy_probe_mask(self.N).astype(np.float32)[None, :, :, None])
        self._kernel = (
            smoothing_kernel(self.gaussian_smoothing_sigma).astype(np.float32)
            if self.gaussian_smoothing_sigma > 0
            else None
        )

    def set_probe(self, probe: np.ndarray) -> None:
        """Assign a complex ``(N, N)`` probe (already normalised, physics §6.1)."""
        probe = np.asarray(probe)
        if probe.ndim == 3 and probe.shape[-1] == 1:
            probe = probe[..., 0]
        if probe.shape != (self.N, self.N):
            raise ValueError(f"ProbeIllumination: probe has shape {probe.shape}; expected ({self.N}, {self.N})")
        probe = probe.astype(np.complex64)
        self.probe_real.assign(np.real(probe)[None, :, :, None])
        self.probe_imag.assign(np.imag(probe)[None, :, :, None])

    def probe(self) -> np.ndarray:
        """The current probe, complex64 ``(N, N)``."""
        re = keras.ops.convert_to_numpy(self.probe_real)[0, :, :, 0]
        im = keras.ops.convert_to_numpy(self.probe_imag)[0, :, :, 0]
        return (re + 1j * im).astype(np.complex64)

    def _smooth(self, x: tf.Tensor) -> tf.Tensor:
        n = self.N
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        out = None
        for di in range(3):
            for dj in range(3):
                term = float(self._kernel[di, dj]) * padded[:, di : di + n, dj : dj + n, :]
                out = term if out is None else out + term
        return out

    def call(self, patches: tf.Tensor) -> tf.Tensor:
        probe = tf.complex(self.probe_real, self.probe_imag)
        psi = patches * probe
        if self._kernel is not None:
            psi = tf.complex(self._smooth(tf.math.real(psi)), self._smooth(tf.math.imag(psi)))
        if self.probe_mask:
            psi = psi * tf.cast(self._mask, psi.dtype)
        return psi

    def compute_output_spec(self, patches: Any) -> keras.KerasTensor:
        return keras.KerasTensor(patches.shape, dtype="complex64")

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "N": self.N,
            "probe_trainable": self.probe_trainable,
            "gaussian_smoothing_sigma": self.gaussian_smoothing_sigma,
            "probe_mask": self.probe_mask,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class FarFieldAmplitude(keras.layers.Layer):
    """``A = sqrt(fftshift(|DFT2 ψ|² / N²))`` per channel → float32 ``(B, N, N, C)`` (§8).

    Unnormalised forward DFT without a pre-shift (only magnitudes are used), so
    ``Σ A² = Σ |ψ|²`` (Parseval); zero frequency lands on pixel ``(N/2, N/2)``.
    """

    def __init__(self, N: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.N = int(N)

    def call(self, psi: tf.Tensor) -> tf.Tensor:
        spectrum = tf.signal.fft2d(tf.transpose(tf.cast(psi, tf.complex64), [0, 3, 1, 2]))
        re = tf.math.real(spectrum)
        im = tf.math.imag(spectrum)
        intensity = (re * re + im * im) / float(self.N * self.N)
        intensity = tf.signal.fftshift(intensity, axes=(2, 3))
        return tf.transpose(safe_sqrt(intensity), [0, 2, 3, 1])

    def compute_output_spec(self, psi: Any) -> keras.KerasTensor:
        return keras.KerasTensor(psi.shape, dtype="float32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "N": self.N}
