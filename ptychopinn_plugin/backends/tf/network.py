"""Generator network of the PINN (physics §4) and of the supervised baseline (§9).

Building blocks (§4.1): ``Conv(f)`` = 3×3 "same" convolution with bias, Glorot-uniform
kernel and zero bias; ``DownBlock(f)`` = Conv→ReLU→Conv→ReLU→2×2 max-pool;
``UpBlock(f, act2)`` = Conv→ReLU→Conv→act2→2× nearest upsampling.  No batch norm,
dropout or attention.

Every layer gets a deterministic name (``encoder_block0_conv0``, ``amp_block1_conv1``,
``phase_border_conv`` …) so weights can be matched by name across backends, and every
kernel initializer its own seed from a :class:`.seeding.SeedStream`, in construction
order: encoder, amplitude branch, phase branch.
"""

from __future__ import annotations

from typing import Callable, Optional

import keras

from ptychopinn_plugin.config import ModelConfig

from .layers import BorderMask, ChannelSlice, ScaledTanh
from .seeding import SeedStream

__all__ = ["FILTER_LADDERS", "filter_ladder", "build_pinn_generator", "build_supervised_generator", "BORDER_CHANNELS"]

BORDER_CHANNELS = 4
"""Base channels routed to the probe_big border branch when ``pad_object`` (§4.3)."""

# (encoder multipliers, decoder-base multipliers) of k = n_filters_scale (§4.2).
FILTER_LADDERS: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    64: ((32, 64, 128), (64, 32)),
    128: ((16, 32, 64, 128), (128, 64, 32)),
    256: ((8, 16, 32, 64, 128), (256, 128, 64, 32)),
}


def filter_ladder(N: int, n_filters_scale: int) -> tuple[list[int], list[int], int]:
    """``(encoder filters, decoder-base filters, border/full UpBlock filters u·k)`` for N.

    ``u = 2048 / N``.  Any N other than 64, 128, 256 → ``ValueError``.
    """
    if N not in FILTER_LADDERS:
        raise ValueError(f"N = {N} is not supported by the generator network; allowed N: {sorted(FILTER_LADDERS)}")
    k = int(n_filters_scale)
    encoder, decoder = FILTER_LADDERS[N]
    return [m * k for m in encoder], [m * k for m in decoder], (2048 // N) * k


def _conv(filters: int, name: str, seeds: SeedStream, activation: Optional[str] = None) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(
        filters,
        kernel_size=3,
        strides=1,
        padding="same",
        activation=activation,
        use_bias=True,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds.next()),
        bias_initializer="zeros",
        name=name,
    )


def down_block(x: keras.KerasTensor, filters: int, name: str, seeds: SeedStream) -> keras.KerasTensor:
    """Conv(f)→ReLU→Conv(f)→ReLU→MaxPool(2, stride 2)."""
    x = _conv(filters, f"{name}_conv0", seeds, "relu")(x)
    x = _conv(filters, f"{name}_conv1", seeds, "relu")(x)
    return keras.layers.MaxPooling2D(pool_size=2, strides=2, padding="valid", name=f"{name}_pool")(x)


def up_block(x: keras.KerasTensor, filters: int, name: str, seeds: SeedStream, act2: str = "relu") -> keras.KerasTensor:
    """Conv(f)→ReLU→Conv(f)→act2→nearest-neighbour 2× upsampling."""
    x = _conv(filters, f"{name}_conv0", seeds, "relu")(x)
    x = _conv(filters, f"{name}_conv1", seeds, act2)(x)
    return keras.layers.UpSampling2D(size=2, interpolation="nearest", name=f"{name}_upsample")(x)


def _activate(x: keras.KerasTensor, activation: str, name: str) -> keras.KerasTensor:
    if activation == "pi_tanh":
        return ScaledTanh(name=name)(x)
    return keras.layers.Activation(activation, name=name)(x)


def _decoder_branch(
    features: keras.KerasTensor,
    branch: str,
    activation: str,
    cfg: ModelConfig,
    out_channels: int,
    seeds: SeedStream,
) -> keras.KerasTensor:
    """Decoder-base UpBlocks then the "last" stage of §4.3 for one branch."""
    n = cfg.N
    _, decoder, up_filters = filter_ladder(n, cfg.n_filters_scale)
    x = features
    for i, filters in enumerate(decoder):
        x = up_block(x, filters, f"{branch}_block{i}", seeds)
    return last_stage(x, branch, activation, cfg, out_channels, seeds)


def last_stage(
    x: keras.KerasTensor,
    branch: str,
    activation: str,
    cfg: ModelConfig,
    out_channels: int,
    seeds: SeedStream,
    prepare_object: Optional[Callable[[keras.KerasTensor], keras.KerasTensor]] = None,
) -> keras.KerasTensor:
    """The "last" stage of §4.3 step 4 on the decoder-base output ``x`` (shared by every
    architecture); ``prepare_object`` may add inputs to the object convolution ('resnet')."""
    n = cfg.N
    _, _, up_filters = filter_ladder(n, cfg.n_filters_scale)
    if not cfg.pad_object:
        x = up_block(x, up_filters, f"{branch}_full_block", seeds)
        x = _conv(out_channels, f"{branch}_object_conv", seeds)(x)
        return _activate(x, activation, f"{branch}_object_act")

    object_part = ChannelSlice(None, -BORDER_CHANNELS, name=f"{branch}_object_slice")(x)
    if prepare_object is not None:
        object_part = prepare_object(object_part)
    object_part = _conv(out_channels, f"{branch}_object_conv", seeds)(object_part)
    object_part = _activate(object_part, activation, f"{branch}_object_act")
    object_part = keras.layers.ZeroPadding2D(padding=n // 4, name=f"{branch}_object_pad")(object_part)
    if not cfg.probe_big:
        return object_part
    border = ChannelSlice(-BORDER_CHANNELS, None, name=f"{branch}_border_slice")(x)
    border = up_block(border, up_filters, f"{branch}_border_block", seeds)
    border = _conv(out_channels, f"{branch}_border_conv", seeds, "swish")(border)
    border = BorderMask(n, name=f"{branch}_border_mask")(border)
    return keras.layers.Add(name=f"{branch}_sum")([object_part, border])


def build_pinn_generator(
    x: keras.KerasTensor, cfg: ModelConfig, channels: int, seeds: SeedStream
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Encoder + amplitude/phase decoders on ``x = s·X / exp(w)``; returns ``(A, φ)``.

    Each has ``C_out = C`` channels when ``object_big`` (one patch per group member),
    else 1.
    """
    encoder, _, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
    for i, filters in enumerate(encoder):
        x = down_block(x, filters, f"encoder_block{i}", seeds)
    out_channels = channels if cfg.object_big else 1
    amplitude = _decoder_branch(x, "amp", cfg.amp_activation, cfg, out_channels, seeds)
    phase = _decoder_branch(x, "phase", "pi_tanh", cfg, out_channels, seeds)
    return amplitude, phase


SUPERVISED_ENCODER = (32, 64, 128)
SUPERVISED_DECODER = (128, 64, 32)


def build_supervised_generator(
    x: keras.KerasTensor, cfg: ModelConfig, seeds: SeedStream
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """PtychoNN-like network of §9: DownBlocks ``32k, 64k, 128k``; two decoders of
    UpBlocks ``128k, 64k, 32k`` each followed by ``Conv(1)`` without activation."""
    k = int(cfg.n_filters_scale)
    for i, m in enumerate(SUPERVISED_ENCODER):
        x = down_block(x, m * k, f"encoder_block{i}", seeds)
    outputs = []
    for branch in ("amp", "phase"):
        y = x
        for i, m in enumerate(SUPERVISED_DECODER):
            y = up_block(y, m * k, f"{branch}_block{i}", seeds)
        outputs.append(_conv(1, f"{branch}_output_conv", seeds)(y))
    return outputs[0], outputs[1]
