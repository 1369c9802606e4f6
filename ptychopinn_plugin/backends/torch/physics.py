"""Physics inside the PINN (physics §4.3 step 2, §5, §6.2, §8) as ``nn.Module``s.

Channels-first layouts: object patches ``(B, C, N, N)`` complex64, canvases
``(B, 1, P, P)`` complex64, positions ``r`` ``(B, C, 1, 2)`` float32 with the last axis
``[x, y]`` (a pure permutation of TF's ``(B, 1, 2, C)``, data §3.2).  Per-channel work is
done on ``(B·C, …)`` stacks in group-major order (flat index ``b·C + c``, §2.3).

The merge and the extraction use the same signs as the TF backend and the NumPy
reference: merging moves channel ``c`` by ``−r`` (fused as sampling the unpadded patch at
``(i + r_y − o, j + r_x − o)``, identical to ``T_{−r}(pad_P(O))``), extraction reads the
canvas at ``(o − r_y + i, o − r_x + j)`` (identical to ``crop_N(T_r(U))``), ``o = (P − N)/2``.
No compensating sign flips anywhere (finding TORCH-REASSEMBLY-SIGN-001).

All physics runs in float32/complex64 with autocast disabled, so mixed-precision training
never computes FFTs or the merge in half precision (api spec §2.6 ``precision``).  Exact
zeros get zero gradients in ``sqrt``/``abs``/``angle`` (the plain ops give inf/NaN there).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptychopinn_plugin.physics.geometry import central_window
from ptychopinn_plugin.physics.object_big import MERGE_EPSILON
from ptychopinn_plugin.physics.probe import probe_mask as numpy_probe_mask
from ptychopinn_plugin.physics.probe import smoothing_kernel

from .translation import sample_shifted

__all__ = [
    "IntensityScaler",
    "ObjectAssembly",
    "ExtractPatches",
    "ProbeIllumination",
    "FarFieldAmplitude",
    "amp_phase_to_complex",
    "trim_object",
    "flatten_positions",
    "safe_sqrt",
    "safe_abs_angle",
    "no_autocast",
]


def no_autocast(device_type: str) -> torch.autocast:
    """Context that disables autocast on ``device_type`` (physics must stay float32)."""
    return torch.autocast(device_type=device_type, enabled=False)


def flatten_positions(positions: torch.Tensor) -> torch.Tensor:
    """``(B, C, 1, 2)`` → ``(B·C, 2)`` rows ``(x, y)`` in group-major order."""
    if positions.dim() != 4 or positions.shape[2:] != (1, 2):
        raise ValueError(f"positions must be (B, C, 1, 2) with the last axis [x, y]; got {tuple(positions.shape)}")
    return positions.reshape(-1, 2)


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(x)`` for ``x ≥ 0`` with gradient 0 (not inf) where ``x == 0``."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))


def safe_abs_angle(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(|z|, angle(z))`` of a complex tensor with zero gradients at ``z == 0``."""
    re, im = z.real, z.imag
    nonzero = (re != 0) | (im != 0)
    safe_re = torch.where(nonzero, re, torch.ones_like(re))
    safe_im = torch.where(nonzero, im, torch.zeros_like(im))
    magnitude = torch.where(nonzero, torch.sqrt(safe_re * safe_re + safe_im * safe_im), torch.zeros_like(re))
    phase = torch.where(nonzero, torch.atan2(safe_im, safe_re), torch.zeros_like(re))
    return magnitude, phase


def amp_phase_to_complex(amplitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """``O = A·exp(i·φ)`` as complex64 (physics §4.3 step 5; not ``A + iφ``)."""
    amplitude = amplitude.float()
    phase = phase.float()
    return torch.complex(amplitude * torch.cos(phase), amplitude * torch.sin(phase))


def trim_object(canvas: torch.Tensor, N: int) -> torch.Tensor:
    """``trimmed_obj = crop_N(U)``: the central ``N×N`` of ``(B, 1, P, P)`` canvases."""
    margin = (canvas.shape[-1] - N) // 2
    return canvas[..., margin : margin + N, margin : margin + N]


class IntensityScaler(nn.Module):
    """The global log intensity scale ``w`` (physics §4.3 step 2, §8 item 6).

    ``scaler(x)`` returns ``x / exp(w)`` (network input) and ``scaler(a, inverse=True)``
    returns ``exp(w)·a`` (predicted amplitude): one parameter used in both places.  ``w``
    is float32, initialised to ``log s`` and trainable iff ``trainable``.
    """

    def __init__(self, initial_scale: float, trainable: bool = True) -> None:
        super().__init__()
        initial_scale = float(initial_scale)
        if not math.isfinite(initial_scale) or initial_scale <= 0:
            raise ValueError(f"IntensityScaler: initial_scale must be a finite number > 0; got {initial_scale!r}")
        self.log_scale = nn.Parameter(
            torch.tensor(math.log(initial_scale), dtype=torch.float32), requires_grad=bool(trainable)
        )

    def forward(self, x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        gain = torch.exp(self.log_scale.to(x.dtype))
        return x * gain if inverse else x / gain

    def scale(self) -> float:
        """Current ``exp(w)`` (computed in float64 from the float32 ``w``)."""
        return float(np.exp(np.float64(self.log_scale.detach().cpu().item())))


class ObjectAssembly(nn.Module):
    """Group canvas ``U_b`` ``(B, 1, P, P)`` complex64 (physics §5).

    ``object_big``: ``U_b = S_b / (K_b + 0.001)`` with ``S_b = Σ_c T_{−r}(pad_P(O_{b,c}))``
    and ``K_b = Σ_c T_{−r}(pad_P(W))``; sums run over the channels of one group only,
    whatever the batch size (never across groups, physics §15 item 3).
    Otherwise ``U_b = pad_P(O_b)`` from a single object channel.
    """

    def __init__(self, N: int, canvas_size: int, channels: int, object_big: bool = True) -> None:
        super().__init__()
        self.N = int(N)
        self.canvas_size = int(canvas_size)
        self.channels = int(channels)
        self.object_big = bool(object_big)
        if self.canvas_size < self.N or (self.canvas_size - self.N) % 2:
            raise ValueError(
                f"ObjectAssembly: canvas_size P = {self.canvas_size} must be >= N = {self.N} with an even "
                "difference (P - N) so the patch sits centrally on the canvas"
            )
        self.register_buffer("window", torch.from_numpy(central_window(self.N, dtype=np.float32)), persistent=False)

    def forward(self, patches: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        n, p = self.N, self.canvas_size
        margin = (p - n) // 2
        if not self.object_big:
            if patches.shape[1] != 1:
                raise ValueError(f"ObjectAssembly: object_big=False expects 1 object channel; got {patches.shape[1]}")
            return F.pad(patches, (margin, margin, margin, margin))
        b, c = patches.shape[0], patches.shape[1]
        if c != self.channels or positions.shape[1] != self.channels:
            raise ValueError(
                f"ObjectAssembly: expected {self.channels} channels; object has {c}, positions have {positions.shape[1]}"
            )
        if positions.shape[0] != b:
            raise ValueError(f"ObjectAssembly: {b} groups of patches but {positions.shape[0]} groups of positions")
        flat = patches.reshape(b * c, n, n)
        shifts = flatten_positions(positions.float())
        window = self.window.expand(b * c, n, n)
        stacked = torch.stack([flat.real, flat.imag, window], dim=1)  # (B·C, 3, N, N)
        moved = sample_shifted(stacked, shifts[:, 1] - margin, shifts[:, 0] - margin, (p, p))
        per_group = moved.reshape(b, c, 3, p, p).sum(dim=1)
        denominator = per_group[:, 2] + MERGE_EPSILON
        canvas = torch.complex(per_group[:, 0] / denominator, per_group[:, 1] / denominator)
        return canvas[:, None]


class ExtractPatches(nn.Module):
    """Patches seen by the probe: ``Z_{b,c} = crop_N(T_{r_{b,c}}(U_b))`` → ``(B, C, N, N)``.

    Channel ``c`` reads the canvas region centred on ``q_b − r_{b,c} = p_{b,c}``, the exact
    inverse of the merge's ``−r``.
    """

    def __init__(self, N: int, channels: int) -> None:
        super().__init__()
        self.N = int(N)
        self.channels = int(channels)

    def forward(self, canvas: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if positions.shape[1] != self.channels:
            raise ValueError(f"ExtractPatches: positions have {positions.shape[1]} channels; expected {self.channels}")
        b, p = canvas.shape[0], canvas.shape[-1]
        if positions.shape[0] != b:
            raise ValueError(f"ExtractPatches: {b} canvases but {positions.shape[0]} groups of positions")
        margin = (p - self.N) // 2
        shifts = flatten_positions(positions.float())
        stacked = torch.stack([canvas[:, 0].real, canvas[:, 0].imag], dim=1)  # (B, 2, P, P)
        repeated = stacked.repeat_interleave(self.channels, dim=0)  # (B·C, 2, P, P) group-major
        patches = sample_shifted(repeated, margin - shifts[:, 1], margin - shifts[:, 0], (self.N, self.N))
        return torch.complex(patches[:, 0], patches[:, 1]).reshape(b, self.channels, self.N, self.N)


class ProbeIllumination(nn.Module):
    """``ψ = P ⊙ Z``, then optional 3×3 Gaussian smoothing, then optional mask (physics §6.2).

    The probe is two float32 parameters ``probe_real``/``probe_imag`` ``(1, 1, N, N)``
    (physics §6.4), shared by all channels, trainable iff ``probe_trainable``.  Smoothing
    pads with ``reflect`` (edge pixel not repeated) and sums the nine shifted copies in the
    same order as the TF backend, real and imaginary parts alike.
    """

    def __init__(
        self,
        N: int,
        probe: np.ndarray,
        probe_trainable: bool = False,
        gaussian_smoothing_sigma: float = 0.0,
        probe_mask: bool = False,
    ) -> None:
        super().__init__()
        self.N = int(N)
        sigma = float(gaussian_smoothing_sigma)
        if not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"ProbeIllumination: gaussian_smoothing_sigma must be >= 0; got {gaussian_smoothing_sigma!r}")
        self.gaussian_smoothing_sigma = sigma
        self.use_mask = bool(probe_mask)
        probe = _check_probe(probe, self.N)
        self.probe_real = nn.Parameter(
            torch.from_numpy(np.ascontiguousarray(probe.real, dtype=np.float32))[None, None],
            requires_grad=bool(probe_trainable),
        )
        self.probe_imag = nn.Parameter(
            torch.from_numpy(np.ascontiguousarray(probe.imag, dtype=np.float32))[None, None],
            requires_grad=bool(probe_trainable),
        )
        self.register_buffer("mask", torch.from_numpy(numpy_probe_mask(self.N))[None, None], persistent=False)
        self._kernel: Optional[list[list[float]]] = (
            smoothing_kernel(sigma).astype(np.float32).tolist() if sigma > 0 else None
        )

    def set_probe(self, probe: np.ndarray) -> None:
        """Assign a complex ``(N, N)`` probe (already normalised, physics §6.1)."""
        probe = _check_probe(probe, self.N)
        with torch.no_grad():
            self.probe_real.copy_(torch.from_numpy(np.ascontiguousarray(probe.real, dtype=np.float32))[None, None])
            self.probe_imag.copy_(torch.from_numpy(np.ascontiguousarray(probe.imag, dtype=np.float32))[None, None])

    def probe(self) -> np.ndarray:
        """The current probe, complex64 ``(N, N)``."""
        re = self.probe_real.detach().cpu().numpy()[0, 0]
        im = self.probe_imag.detach().cpu().numpy()[0, 0]
        return (re + 1j * im).astype(np.complex64)

    def _smooth(self, x: torch.Tensor) -> torch.Tensor:
        n = self.N
        shape = x.shape
        padded = F.pad(x.reshape(-1, 1, n, n), (1, 1, 1, 1), mode="reflect")
        out: Optional[torch.Tensor] = None
        for di in range(3):
            for dj in range(3):
                term = self._kernel[di][dj] * padded[:, :, di : di + n, dj : dj + n]
                out = term if out is None else out + term
        return out.reshape(shape)

    def forward(self, patches: torch.Tensor, probe: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``probe``: optional per-sample normalised probes ``(B, 1, N, N)`` complex (data §3.3,
        multi-experiment memory-mapped datasets) used instead of the module's own probe."""
        if probe is None:
            probe = torch.complex(self.probe_real, self.probe_imag)
        else:
            expected = (patches.shape[0], 1, self.N, self.N)
            if tuple(probe.shape) != expected:
                raise ValueError(f"per-sample probe must have shape {expected} (B, 1, N, N); got {tuple(probe.shape)}")
            probe = probe.to(torch.complex64)
        psi = patches * probe
        if self._kernel is not None:
            psi = torch.complex(self._smooth(psi.real), self._smooth(psi.imag))
        if self.use_mask:
            psi = psi * self.mask.to(psi.real.dtype)
        return psi


def _check_probe(probe: np.ndarray, n: int) -> np.ndarray:
    probe = np.asarray(probe)
    if probe.ndim == 3 and probe.shape[-1] == 1:
        probe = probe[..., 0]
    if probe.shape != (n, n):
        raise ValueError(f"probe has shape {probe.shape} but the model needs ({n}, {n}) (N = {n})")
    if not np.all(np.isfinite(probe)):
        raise ValueError("probe contains NaN or infinite values")
    return probe.astype(np.complex64)


class FarFieldAmplitude(nn.Module):
    """``A = sqrt(fftshift(|DFT2 ψ|² / N²))`` per channel → float32 ``(B, C, N, N)`` (§8).

    Unnormalised forward DFT without a pre-shift (only magnitudes are used), so
    ``Σ A² = Σ |ψ|²`` (Parseval); zero frequency lands on pixel ``(N/2, N/2)``.
    """

    def __init__(self, N: int) -> None:
        super().__init__()
        self.N = int(N)

    def forward(self, psi: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.fft2(psi.to(torch.complex64))
        re, im = spectrum.real, spectrum.imag
        intensity = (re * re + im * im) / float(self.N * self.N)
        intensity = torch.fft.fftshift(intensity, dim=(-2, -1))
        return safe_sqrt(intensity)
