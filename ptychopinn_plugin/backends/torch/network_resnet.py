"""The 'resnet' generator (physics §4.4 amendment): same inputs, outputs and last stage as the
reference network of §4.1–§4.3, with a body built to train on a CPU budget.

Why each change (measurements: docs/architecture.md):

* **Pre-activation residual blocks** ``x + Conv(ReLU(GN(Conv(ReLU(GN(x))))))`` with the
  second convolution zero-initialised: every block starts as the identity, so gradients
  reach the first layers at full strength and ReLUs cannot all die (the authors' own log
  of the reference network records 60–97 % of encoder ReLUs that never fire; they moved
  to residual blocks).
* **GroupNorm** (8 groups): activations stay unit-scale whatever the photon count or the
  dynamic range of the diffraction amplitudes; batch-size independent (batch 16).
* **He (Kaiming) initialisation** for convolutions followed by ReLU (Glorot halves the
  signal variance at every ReLU layer).
* **Dense bottleneck**: the map from a diffraction amplitude to an object patch is not
  translation-equivariant (shifting the object inside the probe leaves the far-field
  amplitude almost unchanged), which a stack of convolutions can only imitate through its
  zero padding.  At the 8×8 bottleneck the features are squeezed to 16 channels, mixed
  by one fully connected layer (1024 → 1024) and added back.
* **Log input**: ``log(1 + x/0.01)`` before the stem.  The normalised amplitudes span
  three decades (centre ≈ 10, median pixel ≈ 0.008 on the 'lines' data) and the
  structure is in the dark pixels, which a linear first layer hardly sees.
* **Coordinate channels** (normalised y, x) enter every decoder stage, so the decoder
  knows where in the patch it is drawing.

Unchanged: the filter ladder of §4.2 (``32k, 64k, 128k`` down, ``64k, 32k`` up for
N = 64), 2×2 max-pool down, 2× nearest up, and the whole last stage of §4.3 step 4
(``pad_object``/``probe_big``, sigmoid (or the configured) amplitude, ``π·tanh`` phase,
the swish border branch and its mask), which the physics depends on.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptychopinn_plugin.config import ModelConfig

from .network import add_last_stage, filter_ladder, last_stage_forward

__all__ = ["ResidualPINNGenerator", "DENSE_CHANNELS", "NORM_GROUPS"]

DENSE_CHANNELS = 16
"""Channels of the squeezed 8×8 bottleneck that the dense layer mixes."""
NORM_GROUPS = 8


INPUT_EPSILON = 0.01
"""Input compression ``log(1 + x/ε)`` (x ≈ the normalised amplitude X of physics §3): the
bright centre (X ≈ 10) and the structure-carrying dark pixels (median X ≈ 0.008 at 1e9
photons) then differ by ~7 instead of ~1000."""
NORM_EPSILON = 1e-5
"""GroupNorm ε, set explicitly in both backends (Keras' default is 1e-3, torch's 1e-5)."""


def _he_conv(in_channels: int, out_channels: int, generator: torch.Generator, name: str, *, kernel: int = 3,
             zero: bool = False) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=kernel, padding=kernel // 2, bias=True)
    conv.keras_name = name
    with torch.no_grad():
        if zero:
            conv.weight.zero_()
        else:
            std = math.sqrt(2.0 / (in_channels * kernel * kernel))
            conv.weight.normal_(0.0, std, generator=generator)
        conv.bias.zero_()
    return conv


def _norm(channels: int, name: str) -> nn.GroupNorm:
    norm = nn.GroupNorm(_groups(channels), channels, eps=NORM_EPSILON)
    norm.keras_name = name
    return norm


def _groups(channels: int) -> int:
    for g in (NORM_GROUPS, 4, 2, 1):
        if channels % g == 0:
            return g
    return 1


class ResBlock(nn.Module):
    """Pre-activation residual block; a 1×1 projection when the channel count changes."""

    def __init__(self, in_channels: int, out_channels: int, name: str, generator: torch.Generator) -> None:
        super().__init__()
        self.norm0 = _norm(in_channels, f"{name}_norm0")
        self.conv0 = _he_conv(in_channels, out_channels, generator, f"{name}_conv0")
        self.norm1 = _norm(out_channels, f"{name}_norm1")
        self.conv1 = _he_conv(out_channels, out_channels, generator, f"{name}_conv1", zero=True)
        self.skip = (None if in_channels == out_channels
                     else _he_conv(in_channels, out_channels, generator, f"{name}_skip", kernel=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv0(F.relu(self.norm0(x)))
        h = self.conv1(F.relu(self.norm1(h)))
        return (x if self.skip is None else self.skip(x)) + h


def _with_coords(x: torch.Tensor) -> torch.Tensor:
    b, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
    grid_y = ys.view(1, 1, h, 1).expand(b, 1, h, w)
    grid_x = xs.view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([x, grid_y, grid_x], dim=1)


class DenseBottleneck(nn.Module):
    """Squeeze to 16 channels, one fully connected layer over all 8×8 positions, expand, add."""

    def __init__(self, channels: int, side: int, generator: torch.Generator) -> None:
        super().__init__()
        self.norm = _norm(channels, "bottleneck_norm")
        self.squeeze = _he_conv(channels, DENSE_CHANNELS, generator, "bottleneck_squeeze", kernel=1)
        features = DENSE_CHANNELS * side * side
        self.dense = nn.Linear(features, features)
        self.dense.keras_name = "bottleneck_dense"
        with torch.no_grad():
            self.dense.weight.normal_(0.0, math.sqrt(2.0 / features), generator=generator)
            self.dense.bias.zero_()
        self.expand = _he_conv(DENSE_CHANNELS, channels, generator, "bottleneck_expand", kernel=1, zero=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        z = self.squeeze(F.relu(self.norm(x)))
        # Flatten in (row, column, channel) order, as Keras' Flatten does on channels-last.
        z = F.relu(self.dense(z.permute(0, 2, 3, 1).flatten(1)))
        z = z.view(b, h, w, DENSE_CHANNELS).permute(0, 3, 1, 2)
        return x + self.expand(z)


class ResidualDecoderBranch(nn.Module):
    """Decoder base (upsample → residual block with coordinates) and the §4.3 last stage,
    whose object convolution also sees the coordinates and the physics first guess."""

    def __init__(self, branch: str, act: str, cfg: ModelConfig, in_channels: int, out_channels: int,
                 generator: torch.Generator, guess_channels: int = 0) -> None:
        super().__init__()
        _, decoder, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
        blocks = []
        channels = in_channels
        for i, filters in enumerate(decoder):
            blocks.append(ResBlock(channels + 2, filters, f"{branch}_res{i}", generator))
            channels = filters
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = _norm(channels, f"{branch}_out_norm")
        add_last_stage(self, branch, act, cfg, channels, out_channels, generator,
                       extra_object_inputs=2 + guess_channels)

    def forward(self, features: torch.Tensor, guess: torch.Tensor) -> torch.Tensor:
        x = features
        for block in self.blocks:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(_with_coords(x))
        x = F.relu(self.out_norm(x))
        pad = self.N // 4
        # Skip connection: the physics first guess, central N/2 window (where the object is drawn).
        central = guess[..., pad:self.N - pad, pad:self.N - pad].to(x.dtype)
        return last_stage_forward(self, x, lambda obj: torch.cat([_with_coords(obj), central], dim=1))


PROBE_REGULARISATION = 1e-2
"""δ of the regularised division by the probe, relative to max |P|²."""


class ModulusProjection(nn.Module):
    """A physics first guess of each member's object patch from its own pattern: one
    modulus projection from a flat object, ``ψ = N·IDFT2(ifftshift(x)·e^{i∠DFT2(P)})``,
    ``Ô = ψ·P*/(|P|² + δ)``, scaled per pattern to unit mean magnitude where the probe is.
    Returned as real and imaginary channels ``(B, 2C, N, N)`` (channel ``c`` real part at
    ``2c``).  On the 'lines' data this estimate alone correlates 0.55 (disk probe) to 0.64
    (defocused probe) with the true amplitude, where the untrained network starts at 0."""

    def __init__(self, probe: np.ndarray) -> None:
        super().__init__()
        p = np.asarray(probe, dtype=np.complex64)
        self.N = int(p.shape[-1])
        # Persistent: the archive's state dict carries the probe this guess was built with
        # (a model rebuilt from an archive starts from a placeholder probe).
        self.register_buffer("probe_real", torch.from_numpy(np.ascontiguousarray(p.real)))
        self.register_buffer("probe_imag", torch.from_numpy(np.ascontiguousarray(p.imag)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            p = torch.complex(self.probe_real, self.probe_imag)
            probe_spectrum = torch.fft.fft2(p)
            magnitude = torch.abs(probe_spectrum)
            phase_factor = torch.where(magnitude > 0, probe_spectrum / torch.clamp(magnitude, min=1e-30),
                                       torch.ones_like(probe_spectrum))
            power = torch.abs(p) ** 2
            inverse = torch.conj(p) / (power + PROBE_REGULARISATION * power.max())
            lit = (torch.abs(p) > 0.1 * torch.abs(p).max()).float()
            spectrum = torch.fft.ifftshift(x.float(), dim=(-2, -1)).to(torch.complex64) * phase_factor
            estimate = torch.fft.ifft2(spectrum) * float(self.N) * inverse
            scale = (torch.abs(estimate) * lit).sum(dim=(-2, -1), keepdim=True) / lit.sum()
            estimate = estimate / (scale + 1e-12)
            b, c, n, _ = estimate.shape
            return torch.stack([estimate.real, estimate.imag], dim=2).reshape(b, 2 * c, n, n)


class ResidualPINNGenerator(nn.Module):
    """Encoder (stem, residual stages, max-pool), dense bottleneck, two residual decoders."""

    def __init__(self, cfg: ModelConfig, channels: int, generator: torch.Generator,
                 probe: np.ndarray | None = None) -> None:
        super().__init__()
        if probe is None:
            raise ValueError("the 'resnet' generator needs the normalised probe (its physics first guess uses it)")
        encoder, _, _ = filter_ladder(cfg.N, cfg.n_filters_scale)
        self.projection = ModulusProjection(probe)
        self.stem = _he_conv(3 * channels, encoder[0], generator, "stem")
        stages = []
        in_channels = encoder[0]
        for i, filters in enumerate(encoder):
            stages.append(ResBlock(in_channels, filters, f"encoder_res{i}", generator))
            in_channels = filters
        self.encoder = nn.ModuleList(stages)
        side = cfg.N // 2 ** len(encoder)
        self.bottleneck = DenseBottleneck(in_channels, side, generator)
        out_channels = channels if cfg.object_big else 1
        guess_channels = 2 * channels
        self.amp = ResidualDecoderBranch("amp", cfg.amp_activation, cfg, in_channels, out_channels, generator,
                                         guess_channels)
        self.phase = ResidualDecoderBranch("phase", "pi_tanh", cfg, in_channels, out_channels, generator,
                                           guess_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        guess = self.projection(x)
        h = torch.cat([torch.log1p(torch.relu(x) / INPUT_EPSILON), guess.to(x.dtype)], dim=1)
        h = self.stem(h)
        for stage in self.encoder:
            h = F.max_pool2d(stage(h), kernel_size=2, stride=2)
        h = self.bottleneck(h)
        return self.amp(h, guess), self.phase(h, guess)
