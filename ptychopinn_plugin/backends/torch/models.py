"""Model construction (physics §4–§9, api spec §3) and introspection for the torch backend.

``build_models`` returns ``(autoencoder, diffraction_to_obj)``, two thin ``nn.Module``
views of one shared core (every parameter shared, state-dict keys ``core.*`` in both).

``forward(x, positions, input_scale_factor=None)`` with ``x`` ``(B, C, N, N)`` float32
amplitude, ``positions`` ``(B, C, 1, 2)`` float32 relative offsets ``r`` and
``input_scale_factor`` ``(B, 1, 1, 1)``, ``(B,)``, a scalar or None (≡ 1); the network
input is ``x·input_scale_factor``, which must equal ``s·X`` (TF parity).

* PINN ``autoencoder`` → ``(obj (B,1,N,N) complex64, pred_amp_scaled (B,C,N,N) float32,
  pred_intensity (B,C,N,N) float32)``; ``diffraction_to_obj`` → ``obj``;
  ``diffraction_to_obj.predict_patches`` → the per-channel object patches
  ``(B, C_out, N, N)`` complex64 before the group merge.
* Supervised (§9, gridsize 1) ``autoencoder`` → ``(obj, amp (B,1,N,N), phase (B,1,N,N))``
  (raw decoder outputs used by the MAE loss); the network sees ``x·isf / s`` with the
  stored ``s``; positions are accepted and ignored.
"""

from __future__ import annotations

import logging
import math
from typing import Optional, Union

import numpy as np
import torch
from torch import nn

from ptychopinn_plugin.config import ModelConfig, validate_model_config
from ptychopinn_plugin.physics.geometry import canvas_size

from . import physics as _physics
from .group_refine import GroupRefinement
from .network import PINNGenerator, SupervisedGenerator
from .seeding import make_generator

logger = logging.getLogger(__name__)

__all__ = [
    "PINNCore",
    "SupervisedCore",
    "Autoencoder",
    "DiffractionToObj",
    "build_models",
    "build_pinn_models",
    "build_supervised_models",
    "network_parameter_count",
    "trainable_parameter_count",
    "trained_intensity_scale",
    "model_probe",
    "model_channels",
    "channel_mismatch_message",
]

ScaleLike = Union[torch.Tensor, float, None]


def channel_mismatch_message(expected: int, got: int) -> str:
    """The api-spec §3 message for a model/input channel mismatch (same text as TF)."""
    g = int(round(math.sqrt(expected)))
    return (
        f"model was trained with gridsize={g} ({expected} channels) but the input has {int(got)} "
        f"channels; set gridsize to {g}"
    )


def _check_scale(intensity_scale: float) -> float:
    value = float(intensity_scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"intensity_scale must be a finite number > 0; got {intensity_scale!r}")
    return value


def _device_type(x: torch.Tensor) -> str:
    return x.device.type


class _Core(nn.Module):
    """Shared input checks and input scaling of both model families."""

    N: int
    channels: int

    def _check_inputs(self, x: torch.Tensor, positions: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[2] != x.shape[3]:
            raise ValueError(f"x must be (B, C, N, N) with square patterns; got {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            raise ValueError(channel_mismatch_message(self.channels, x.shape[1]))
        if x.shape[2] != self.N:
            raise ValueError(f"model expects {self.N}×{self.N} patterns but the input has {x.shape[2]}×{x.shape[3]}")
        expected = (x.shape[0], self.channels, 1, 2)
        if tuple(positions.shape) != expected:
            raise ValueError(f"positions must have shape {expected} (B, C, 1, 2) = [x, y]; got {tuple(positions.shape)}")

    @staticmethod
    def _scaled_input(x: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        x = x.float()
        if input_scale_factor is None:
            return x
        isf = torch.as_tensor(input_scale_factor, device=x.device, dtype=torch.float32)
        if isf.dim() == 0:
            return x * isf
        if isf.numel() != x.shape[0]:
            raise ValueError(
                f"input_scale_factor must be (B,1,1,1), (B,) or a scalar for B = {x.shape[0]}; got {tuple(isf.shape)}"
            )
        return x * isf.reshape(-1, 1, 1, 1)


class PINNCore(_Core):
    """Every parameter of the PINN: ``w``, generator, probe (physics §4–§8)."""

    def __init__(
        self,
        model_config: ModelConfig,
        *,
        intensity_scale: float,
        probe: np.ndarray,
        probe_trainable: bool = False,
        intensity_scale_trainable: bool = True,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        validate_model_config(model_config, require_n=True)
        cfg = model_config
        self.N = int(cfg.N)
        self.gridsize = int(cfg.gridsize)
        self.channels = self.gridsize**2
        self.object_big = bool(cfg.object_big)
        self.canvas_size = canvas_size(self.N, cfg.gridsize, cfg.offset, cfg.max_position_jitter)
        if probe is None:
            raise ValueError("build_models: a normalised probe (N, N) complex64 is required for the PINN model")
        self.scaler = _physics.IntensityScaler(_check_scale(intensity_scale), intensity_scale_trainable)
        if cfg.architecture == "resnet":  # physics §4.4; its first guess needs the probe
            from .network_resnet import ResidualPINNGenerator

            self.generator = ResidualPINNGenerator(cfg, self.channels, make_generator(seed), probe=probe)
        else:
            self.generator = PINNGenerator(cfg, self.channels, make_generator(seed))
        self.assembly = _physics.ObjectAssembly(self.N, self.canvas_size, self.channels, self.object_big)
        self.extract = _physics.ExtractPatches(self.N, self.channels)
        self.illumination = _physics.ProbeIllumination(
            self.N,
            probe,
            probe_trainable=probe_trainable,
            gaussian_smoothing_sigma=cfg.gaussian_smoothing_sigma,
            probe_mask=cfg.probe_mask,
        )
        self.far_field = _physics.FarFieldAmplitude(self.N)
        self.group_refine = GroupRefinement(self.N, self.canvas_size, self.channels, cfg.group_refine_iterations,
                                           cfg.group_refine_momentum)

    def _network_input(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        """``x·isf / exp(w)``: the generator's input, and the measured amplitude in the object's gauge."""
        self._check_inputs(x, positions)
        return self.scaler(self._scaled_input(x, input_scale_factor))

    def _patches_of(self, net_in: torch.Tensor) -> torch.Tensor:
        amplitude, phase = self.generator(net_in)
        with _physics.no_autocast(_device_type(net_in)):
            return _physics.amp_phase_to_complex(amplitude, phase)

    def object_patches(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        """Complex object patches ``O`` ``(B, C_out, N, N)`` straight from the decoders."""
        return self._patches_of(self._network_input(x, positions, input_scale_factor))

    def _refined_canvas(self, net_in: torch.Tensor, positions: torch.Tensor,
                        probe: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The group canvas ``U`` of §5, then ``group_refine_iterations`` error-reduction
        iterations against the group's own patterns (none by default)."""
        patches = self._patches_of(net_in)
        with _physics.no_autocast(_device_type(net_in)):
            positions = positions.float()
            canvas = self.assembly(patches, positions)
            if self.group_refine.iterations == 0:
                return canvas
            effective_probe = self.illumination(torch.ones_like(canvas[:, :, :self.N, :self.N]), probe)
            return self.group_refine(canvas, net_in.float(), positions, effective_probe)

    def refined_canvas(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        """The group canvas the forward model extracts from: the generator's merged patches
        after the group refinement (just the merge when ``group_refine_iterations = 0``)."""
        return self._refined_canvas(self._network_input(x, positions, input_scale_factor), positions)

    def trimmed(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        """``trimmed_obj`` ``(B, 1, N, N)`` complex64 only (no far field: cheaper inference)."""
        net_in = self._network_input(x, positions, input_scale_factor)
        return _physics.trim_object(self._refined_canvas(net_in, positions), self.N)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        input_scale_factor: ScaleLike = None,
        probe: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``probe``: optional per-sample probes ``(B, 1, N, N)`` replacing the model's own."""
        net_in = self._network_input(x, positions, input_scale_factor)
        canvas = self._refined_canvas(net_in, positions, probe)
        with _physics.no_autocast(_device_type(x)):
            positions = positions.float()
            trimmed = _physics.trim_object(canvas, self.N)
            extracted = self.extract(canvas, positions)
            illuminated = self.illumination(extracted, probe)
            amplitude = self.far_field(illuminated)
            pred_amp_scaled = self.scaler(amplitude, inverse=True)
            pred_intensity = pred_amp_scaled * pred_amp_scaled
        return trimmed, pred_amp_scaled, pred_intensity


class SupervisedCore(_Core):
    """PtychoNN-like baseline (physics §9): input ``x·isf / s``, outputs amp and phase."""

    def __init__(self, model_config: ModelConfig, *, intensity_scale: float, seed: Optional[int] = None) -> None:
        super().__init__()
        validate_model_config(model_config, require_n=True)
        if model_config.gridsize != 1:
            raise ValueError(f"the supervised model requires gridsize == 1 (got gridsize = {model_config.gridsize})")
        self.N = int(model_config.N)
        if self.N % 8:
            raise ValueError(f"the supervised model needs N divisible by 8; got N = {self.N}")
        self.gridsize = 1
        self.channels = 1
        # Persistent buffer: the stored s travels with the state dict.
        self.register_buffer("input_scale", torch.tensor(_check_scale(intensity_scale), dtype=torch.float32))
        self.generator = SupervisedGenerator(model_config, make_generator(seed))

    def amp_phase(
        self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_inputs(x, positions)
        net_in = self._scaled_input(x, input_scale_factor) / self.input_scale
        amp, phase = self.generator(net_in)
        return amp.float(), phase.float()

    def trimmed(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        amp, phase = self.amp_phase(x, positions, input_scale_factor)
        with _physics.no_autocast(_device_type(x)):
            return _physics.amp_phase_to_complex(amp, phase)

    def object_patches(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike) -> torch.Tensor:
        return self.trimmed(x, positions, input_scale_factor)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        input_scale_factor: ScaleLike = None,
        probe: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        del probe  # the supervised model has no physics
        amp, phase = self.amp_phase(x, positions, input_scale_factor)
        with _physics.no_autocast(_device_type(x)):
            obj = _physics.amp_phase_to_complex(amp, phase)
        return obj, amp, phase


class Autoencoder(nn.Module):
    """Training graph: ``forward(x, positions, input_scale_factor)`` → the 3-tuple of api §3."""

    def __init__(self, core: _Core) -> None:
        super().__init__()
        self.core = core

    @property
    def model_type(self) -> str:
        return "supervised" if isinstance(self.core, SupervisedCore) else "pinn"

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        input_scale_factor: ScaleLike = None,
        probe: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if probe is None:
            return self.core(x, positions, input_scale_factor)
        return self.core(x, positions, input_scale_factor, probe)


class DiffractionToObj(nn.Module):
    """Inference graph: ``forward`` → merged ``trimmed_obj`` ``(B, 1, N, N)`` complex64."""

    def __init__(self, core: _Core) -> None:
        super().__init__()
        self.core = core

    @property
    def model_type(self) -> str:
        return "supervised" if isinstance(self.core, SupervisedCore) else "pinn"

    def forward(self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike = None) -> torch.Tensor:
        return self.core.trimmed(x, positions, input_scale_factor)

    def predict_patches(
        self, x: torch.Tensor, positions: torch.Tensor, input_scale_factor: ScaleLike = None
    ) -> torch.Tensor:
        """Per-channel object patches ``(B, C_out, N, N)`` complex64 before the merge (diagnostics)."""
        return self.core.object_patches(x, positions, input_scale_factor)


def build_pinn_models(
    model_config: ModelConfig,
    *,
    intensity_scale: float,
    probe: np.ndarray,
    probe_trainable: bool = False,
    intensity_scale_trainable: bool = True,
    seed: Optional[int] = None,
) -> tuple[Autoencoder, DiffractionToObj]:
    """The PINN of physics §4–§8 (see module docstring)."""
    core = PINNCore(
        model_config,
        intensity_scale=intensity_scale,
        probe=probe,
        probe_trainable=probe_trainable,
        intensity_scale_trainable=intensity_scale_trainable,
        seed=seed,
    )
    logger.debug(
        "built torch PINN N=%d gridsize=%d canvas=%d: %d trainable network parameters",
        core.N, core.gridsize, core.canvas_size, network_parameter_count(core),
    )
    return Autoencoder(core), DiffractionToObj(core)


def build_supervised_models(
    model_config: ModelConfig, *, intensity_scale: float, seed: Optional[int] = None
) -> tuple[Autoencoder, DiffractionToObj]:
    """Supervised baseline (physics §9); gridsize must be 1."""
    core = SupervisedCore(model_config, intensity_scale=intensity_scale, seed=seed)
    return Autoencoder(core), DiffractionToObj(core)


def build_models(
    model_config: ModelConfig,
    *,
    intensity_scale: float,
    probe: Optional[np.ndarray] = None,
    probe_trainable: bool = False,
    intensity_scale_trainable: bool = True,
    seed: Optional[int] = None,
) -> tuple[Autoencoder, DiffractionToObj]:
    """``(autoencoder, diffraction_to_obj)`` for ``model_config.model_type`` (mirrors the TF backend).

    ``probe``: the **normalised** probe (physics §6.1), complex ``(N, N)``; required for
    the PINN, ignored by the supervised model.  ``seed`` fixes the initial weights.
    """
    if model_config.model_type == "supervised":
        return build_supervised_models(model_config, intensity_scale=intensity_scale, seed=seed)
    return build_pinn_models(
        model_config,
        intensity_scale=intensity_scale,
        probe=probe,
        probe_trainable=probe_trainable,
        intensity_scale_trainable=intensity_scale_trainable,
        seed=seed,
    )


# ----------------------------------------------------------------------------- introspection
def _core(model: nn.Module) -> nn.Module:
    return getattr(model, "core", model)


def trainable_parameter_count(model: nn.Module) -> int:
    """Trainable scalars (includes ``w``/the probe when trainable)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def network_parameter_count(model: nn.Module) -> int:
    """Trainable generator parameters, excluding ``w`` and the probe: the numbers of physics §4.3."""
    core = _core(model)
    return int(sum(p.numel() for p in core.generator.parameters() if p.requires_grad))


def trained_intensity_scale(model: nn.Module) -> Optional[float]:
    """``exp(w)`` of the model (None for the supervised model)."""
    scaler = getattr(_core(model), "scaler", None)
    return None if scaler is None else scaler.scale()


def model_probe(model: nn.Module) -> Optional[np.ndarray]:
    """The probe inside the model, complex64 ``(N, N)`` (None for the supervised model)."""
    illumination = getattr(_core(model), "illumination", None)
    return None if illumination is None else illumination.probe()


def non_finite_weights(model: nn.Module) -> list[str]:
    """Names of the model's parameters and buffers holding NaN/Inf (empty for a healthy model)."""
    return [name for name, value in model.state_dict().items()
            if (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all())]


def model_channels(model: nn.Module) -> int:
    """Channels ``C`` the model's input expects."""
    return int(_core(model).channels)
