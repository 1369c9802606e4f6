"""Generator networks (physics §4 PINN, §9 supervised) as channels-first ``nn.Module``s.

Identical in structure and parameter count to the TF backend (physics §15 item 4):
``Conv(f)`` = 3×3 stride-1 convolution with "same" zero padding (1 px), bias,
Glorot-uniform kernel ``U(±sqrt(6/(9·C_in + 9·f)))`` and zero bias — Keras' defaults,
not torch's Kaiming default (finding TORCH-N128-FLAT-AMP-001); ``DownBlock`` =
Conv→ReLU→Conv→ReLU→2×2 max-pool; ``UpBlock`` = Conv→ReLU→Conv→act2→2× nearest
upsampling.  No batch norm, dropout or attention.

Every convolution carries ``keras_name``, the name of the corresponding Keras layer
(``encoder_block0_conv0``, ``amp_border_conv`` …), which is how
:mod:`.weights` copies TF weights for the parity tests.  Initial weights are drawn from
one explicit ``torch.Generator`` in construction order (encoder, amplitude branch,
phase branch), so they depend only on the seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ptychopinn_plugin.config import ModelConfig
from ptychopinn_plugin.physics.geometry import border_mask

__all__ = [
    "BORDER_CHANNELS",
    "FILTER_LADDERS",
    "filter_ladder",
    "Conv3x3",
    "DownBlock",
    "UpBlock",
    "DecoderBranch",
    "PINNGenerator",
    "SupervisedGenerator",
    "activation",
]

BORDER_CHANNELS = 4
"""Base channels routed to the probe_big border branch when ``pad_object`` (§4.3)."""

# (encoder multipliers, decoder-base multipliers) of k = n_filters_scale (physics §4.2).
FILTER_LADDERS: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {
    64: ((32, 64, 128), (64, 32)),
    128: ((16, 32, 64, 128), (128, 64, 32)),
    256: ((8, 16, 32, 64, 128), (256, 128, 64, 32)),
}
SUPERVISED_ENCODER = (32, 64, 128)
SUPERVISED_DECODER = (128, 64, 32)


def filter_ladder(N: int, n_filters_scale: int) -> tuple[list[int], list[int], int]:
    """``(encoder filters, decoder-base filters, u·k)`` with ``u = 2048/N``; other N → ``ValueError``."""
    if N not in FILTER_LADDERS:
        raise ValueError(f"N = {N} is not supported by the generator network; allowed N: {sorted(FILTER_LADDERS)}")
    k = int(n_filters_scale)
    encoder, decoder = FILTER_LADDERS[N]
    return [m * k for m in encoder], [m * k for m in decoder], (2048 // N) * k


# ----------------------------------------------------------------------------- activations
class ScaledTanh(nn.Module):
    """``π·tanh(x)``: the phase activation (physics §4.3)."""

    def __init__(self, scale: float = math.pi) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.tanh(x)


def activation(name: str) -> nn.Module:
    """Activation module by its Keras name (``sigmoid``, ``swish``, ``softplus``, ``relu``, ``pi_tanh``)."""
    table = {
        "sigmoid": nn.Sigmoid,
        "swish": nn.SiLU,  # Keras swish = x·sigmoid(x)
        "softplus": nn.Softplus,
        "relu": nn.ReLU,
        "pi_tanh": ScaledTanh,
        "linear": nn.Identity,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; allowed: {sorted(table)}")
    return table[name]()


# ----------------------------------------------------------------------------- blocks
class Conv3x3(nn.Conv2d):
    """``Conv(f)`` of physics §4.1 with Keras' initialisation and its Keras layer name."""

    def __init__(self, in_channels: int, out_channels: int, keras_name: str, generator: torch.Generator) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=True)
        self.keras_name = keras_name
        # Glorot-uniform: fan_in = 9·C_in, fan_out = 9·C_out (same as keras GlorotUniform).
        limit = math.sqrt(6.0 / (9 * in_channels + 9 * out_channels))
        with torch.no_grad():
            self.weight.uniform_(-limit, limit, generator=generator)
            self.bias.zero_()


class DownBlock(nn.Module):
    """Conv(f)→ReLU→Conv(f)→ReLU→MaxPool(2, stride 2)."""

    def __init__(self, in_channels: int, filters: int, name: str, generator: torch.Generator) -> None:
        super().__init__()
        self.conv0 = Conv3x3(in_channels, filters, f"{name}_conv0", generator)
        self.conv1 = Conv3x3(filters, filters, f"{name}_conv1", generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv0(x))
        x = F.relu(self.conv1(x))
        return F.max_pool2d(x, kernel_size=2, stride=2)


class UpBlock(nn.Module):
    """Conv(f)→ReLU→Conv(f)→act2→2× nearest-neighbour upsampling."""

    def __init__(self, in_channels: int, filters: int, name: str, generator: torch.Generator) -> None:
        super().__init__()
        self.conv0 = Conv3x3(in_channels, filters, f"{name}_conv0", generator)
        self.conv1 = Conv3x3(filters, filters, f"{name}_conv1", generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv0(x))
        x = F.relu(self.conv1(x))
        return F.interpolate(x, scale_factor=2, mode="nearest")


class DecoderBranch(nn.Module):
    """One decoder branch (amplitude or phase): decoder-base UpBlocks, then the "last" stage.

    ``pad_object``: ``act(Conv(C_out)(F[:, :−4]))`` zero-padded by ``N/4`` (object confined
    to the central ``N/2`` window), plus — with ``probe_big`` — the border branch
    ``swish(Conv(C_out)(UpBlock(u·k)(F[:, −4:])))·(1 − W)``.  Without ``pad_object``:
    ``act(Conv(C_out)(UpBlock(u·k)(F)))`` over the full ``N×N``.
    """

    def __init__(
        self, branch: str, act: str, cfg: ModelConfig, in_channels: int, out_channels: int, generator: torch.Generator
    ) -> None:
        super().__init__()
        _, decoder, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
        blocks = []
        channels = in_channels
        for i, filters in enumerate(decoder):
            blocks.append(UpBlock(channels, filters, f"{branch}_block{i}", generator))
            channels = filters
        self.blocks = nn.ModuleList(blocks)
        add_last_stage(self, branch, act, cfg, channels, out_channels, generator)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features
        for block in self.blocks:
            x = block(x)
        return last_stage_forward(self, x)


def add_last_stage(module: nn.Module, branch: str, act: str, cfg: ModelConfig, channels: int, out_channels: int,
                   generator: torch.Generator, extra_object_inputs: int = 0) -> None:
    """Give ``module`` the layers of the §4.3 "last" stage (shared by every architecture).

    The layers become attributes of ``module`` itself (``object_conv``, ``border_block``,
    ``border_conv``, ``full_block``), so the state-dict keys of the reference network stay
    what archives already hold.  ``extra_object_inputs``: channels the caller appends to
    the object convolution's input ('resnet': coordinates and the physics first guess).
    """
    n = cfg.N
    _, _, up_filters = filter_ladder(n, cfg.n_filters_scale)
    module.N = n
    module.pad_object = bool(cfg.pad_object)
    module.probe_big = bool(cfg.probe_big)
    if not module.pad_object:
        module.full_block = UpBlock(channels, up_filters, f"{branch}_full_block", generator)
        module.object_conv = Conv3x3(up_filters, out_channels, f"{branch}_object_conv", generator)
    else:
        if channels <= BORDER_CHANNELS:
            raise ValueError(f"decoder base has {channels} channels; pad_object needs more than {BORDER_CHANNELS}")
        module.object_conv = Conv3x3(channels - BORDER_CHANNELS + extra_object_inputs, out_channels,
                                     f"{branch}_object_conv", generator)
        if module.probe_big:
            module.border_block = UpBlock(BORDER_CHANNELS, up_filters, f"{branch}_border_block", generator)
            module.border_conv = Conv3x3(up_filters, out_channels, f"{branch}_border_conv", generator)
            module.register_buffer(
                "border_mask", torch.from_numpy(border_mask(n, dtype="float32"))[None, None], persistent=False
            )
    module.act = activation(act)


def last_stage_forward(module: nn.Module, x: torch.Tensor, prepare_object=None) -> torch.Tensor:  # noqa: ANN001
    """Forward of :func:`add_last_stage` on the decoder-base output ``x``;
    ``prepare_object`` maps the object slice to the object convolution's input."""
    if not module.pad_object:
        return module.act(module.object_conv(module.full_block(x)))
    pad = module.N // 4
    object_in = x[:, :-BORDER_CHANNELS]
    if prepare_object is not None:
        object_in = prepare_object(object_in)
    obj = F.pad(module.act(module.object_conv(object_in)), (pad, pad, pad, pad))
    if not module.probe_big:
        return obj
    border = F.silu(module.border_conv(module.border_block(x[:, -BORDER_CHANNELS:])))
    border = border * module.border_mask.to(border.dtype)
    return obj + border


class PINNGenerator(nn.Module):
    """Encoder + amplitude/phase decoders (physics §4); ``forward(x) → (A, φ)``.

    ``x`` = ``s·X / exp(w)`` ``(B, C, N, N)``; outputs ``(B, C_out, N, N)`` with
    ``C_out = C`` when ``object_big`` else 1.
    """

    def __init__(self, cfg: ModelConfig, channels: int, generator: torch.Generator) -> None:
        super().__init__()
        encoder, _, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
        blocks = []
        in_channels = channels
        for i, filters in enumerate(encoder):
            blocks.append(DownBlock(in_channels, filters, f"encoder_block{i}", generator))
            in_channels = filters
        self.encoder = nn.ModuleList(blocks)
        out_channels = channels if cfg.object_big else 1
        self.amp = DecoderBranch("amp", cfg.amp_activation, cfg, in_channels, out_channels, generator)
        self.phase = DecoderBranch("phase", "pi_tanh", cfg, in_channels, out_channels, generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.encoder:
            x = block(x)
        return self.amp(x), self.phase(x)


class SupervisedGenerator(nn.Module):
    """PtychoNN-like network of physics §9: DownBlocks ``32k, 64k, 128k``; two decoders of
    UpBlocks ``128k, 64k, 32k`` each followed by ``Conv(1)`` without activation."""

    def __init__(self, cfg: ModelConfig, generator: torch.Generator, in_channels: int = 1) -> None:
        super().__init__()
        k = int(cfg.n_filters_scale)
        blocks = []
        channels = in_channels
        for i, m in enumerate(SUPERVISED_ENCODER):
            blocks.append(DownBlock(channels, m * k, f"encoder_block{i}", generator))
            channels = m * k
        self.encoder = nn.ModuleList(blocks)
        encoded = channels
        self.amp_blocks, self.amp_output = self._decoder("amp", encoded, k, generator)
        self.phase_blocks, self.phase_output = self._decoder("phase", encoded, k, generator)

    @staticmethod
    def _decoder(branch: str, channels: int, k: int, generator: torch.Generator) -> tuple[nn.ModuleList, Conv3x3]:
        blocks = []
        for i, m in enumerate(SUPERVISED_DECODER):
            blocks.append(UpBlock(channels, m * k, f"{branch}_block{i}", generator))
            channels = m * k
        return nn.ModuleList(blocks), Conv3x3(channels, 1, f"{branch}_output_conv", generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.encoder:
            x = block(x)
        amp = x
        for block in self.amp_blocks:
            amp = block(amp)
        phase = x
        for block in self.phase_blocks:
            phase = block(phase)
        return self.amp_output(amp), self.phase_output(phase)

