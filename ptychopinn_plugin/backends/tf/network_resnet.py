"""The 'resnet' generator (physics §4.4 amendment) in Keras: the same function as
``backends/torch/network_resnet.py`` (weight-copied parity ≤ 1e-5, gradient parity), with
the same layer names.  Why each part exists: that module's docstring and docs/architecture.md.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from ptychopinn_plugin.config import ModelConfig

from .layers import AddCoords, LogInput, ModulusProjection
from .network import filter_ladder, last_stage
from .seeding import SeedStream

__all__ = ["build_resnet_generator", "DENSE_CHANNELS", "NORM_EPSILON"]

DENSE_CHANNELS = 16
NORM_GROUPS = 8
NORM_EPSILON = 1e-5
INPUT_EPSILON = 0.01


def _groups(channels: int) -> int:
    for g in (NORM_GROUPS, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1


def _he_conv(filters: int, in_channels: int, name: str, seeds: SeedStream, *, kernel: int = 3,
             zero: bool = False) -> keras.layers.Conv2D:
    seed = seeds.next()
    init = ("zeros" if zero else
            keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / (in_channels * kernel * kernel)), seed=seed))
    return keras.layers.Conv2D(filters, kernel_size=kernel, padding="same", use_bias=True, kernel_initializer=init,
                               bias_initializer="zeros", name=name)


def _norm(channels: int, name: str) -> keras.layers.GroupNormalization:
    return keras.layers.GroupNormalization(groups=_groups(channels), axis=-1, epsilon=NORM_EPSILON, name=name)


def _relu(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
    return keras.layers.Activation("relu", name=name)(x)


def res_block(x: keras.KerasTensor, in_channels: int, filters: int, name: str, seeds: SeedStream) -> keras.KerasTensor:
    """Pre-activation residual block, second convolution zero-initialised; 1×1 skip projection
    when the channel count changes (torch ``ResBlock``)."""
    h = _he_conv(filters, in_channels, f"{name}_conv0", seeds)(_relu(_norm(in_channels, f"{name}_norm0")(x),
                                                                     f"{name}_relu0"))
    h = _he_conv(filters, filters, f"{name}_conv1", seeds, zero=True)(_relu(_norm(filters, f"{name}_norm1")(h),
                                                                             f"{name}_relu1"))
    skip = x if in_channels == filters else _he_conv(filters, in_channels, f"{name}_skip", seeds, kernel=1)(x)
    return keras.layers.Add(name=f"{name}_add")([skip, h])


def dense_bottleneck(x: keras.KerasTensor, channels: int, side: int, seeds: SeedStream) -> keras.KerasTensor:
    z = _he_conv(DENSE_CHANNELS, channels, "bottleneck_squeeze", seeds, kernel=1)(
        _relu(_norm(channels, "bottleneck_norm")(x), "bottleneck_relu"))
    features = DENSE_CHANNELS * side * side
    z = keras.layers.Flatten(name="bottleneck_flatten")(z)
    z = keras.layers.Dense(features, activation="relu", name="bottleneck_dense",
                           kernel_initializer=keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / features),
                                                                              seed=seeds.next()),
                           bias_initializer="zeros")(z)
    z = keras.layers.Reshape((side, side, DENSE_CHANNELS), name="bottleneck_unflatten")(z)
    z = _he_conv(channels, DENSE_CHANNELS, "bottleneck_expand", seeds, kernel=1, zero=True)(z)
    return keras.layers.Add(name="bottleneck_add")([x, z])


def _decoder_branch(features: keras.KerasTensor, in_channels: int, branch: str, activation: str, cfg: ModelConfig,
                    out_channels: int, seeds: SeedStream, guess: keras.KerasTensor) -> keras.KerasTensor:
    n = cfg.N
    _, decoder, _ = filter_ladder(n, cfg.n_filters_scale)
    x, channels = features, in_channels
    for i, filters in enumerate(decoder):
        x = keras.layers.UpSampling2D(size=2, interpolation="nearest", name=f"{branch}_res{i}_upsample")(x)
        x = AddCoords(name=f"{branch}_res{i}_coords")(x)
        x = res_block(x, channels + 2, filters, f"{branch}_res{i}", seeds)
        channels = filters
    x = _relu(_norm(channels, f"{branch}_out_norm")(x), f"{branch}_out_relu")

    def with_coords_and_guess(object_part: keras.KerasTensor) -> keras.KerasTensor:
        object_part = AddCoords(name=f"{branch}_object_coords")(object_part)
        central = keras.layers.Cropping2D(cropping=n // 4, name=f"{branch}_guess_crop")(guess)
        return keras.layers.Concatenate(axis=-1, name=f"{branch}_object_concat")([object_part, central])

    return last_stage(x, branch, activation, cfg, out_channels, seeds, with_coords_and_guess)


def build_resnet_generator(x: keras.KerasTensor, cfg: ModelConfig, channels: int, seeds: SeedStream,
                           probe: np.ndarray) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Physics first guess, stem, residual encoder stages with 2×2 max-pool, dense bottleneck,
    two residual decoders that also see the first guess in their last stage."""
    encoder, _, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
    probe = np.asarray(probe, dtype=np.complex64)
    guess = ModulusProjection(probe.real, probe.imag, name="modulus_projection")(x)
    logs = LogInput(INPUT_EPSILON, name="log_input")(x)
    x = keras.layers.Concatenate(axis=-1, name="stem_input")([logs, guess])
    x = _he_conv(encoder[0], 3 * channels, "stem", seeds)(x)
    in_channels = encoder[0]
    for i, filters in enumerate(encoder):
        x = res_block(x, in_channels, filters, f"encoder_res{i}", seeds)
        x = keras.layers.MaxPooling2D(pool_size=2, strides=2, padding="valid", name=f"encoder_res{i}_pool")(x)
        in_channels = filters
    side = cfg.N // 2 ** len(encoder)
    x = dense_bottleneck(x, in_channels, side, seeds)
    out_channels = channels if cfg.object_big else 1
    amplitude = _decoder_branch(x, in_channels, "amp", cfg.amp_activation, cfg, out_channels, seeds, guess)
    phase = _decoder_branch(x, in_channels, "phase", "pi_tanh", cfg, out_channels, seeds, guess)
    return amplitude, phase
