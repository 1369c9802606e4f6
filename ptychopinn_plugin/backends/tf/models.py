"""Model construction (physics §4–§9, api spec §3) and weight introspection.

``build_models`` returns ``(autoencoder, diffraction_to_obj)``; both take
``input`` = ``s·X`` ``(B, N, N, C)`` float32 and ``input_positions`` = ``r``
``(B, 1, 2, C)`` float32 and share every weight.  Outputs:

* PINN ``autoencoder``: ``[trimmed_obj (B,N,N,1) complex64, pred_amp_scaled (B,N,N,C),
  pred_intensity (B,N,N,C)]``; ``diffraction_to_obj``: ``trimmed_obj``.
* Supervised (§9, gridsize 1): ``autoencoder``: ``[trimmed_obj, amp (B,N,N,1),
  phase (B,N,N,1)]`` (``amp``/``phase`` are the raw decoder outputs the MAE loss uses);
  ``diffraction_to_obj``: ``trimmed_obj = amp·exp(i·phase)``; positions are ignored.
"""

from __future__ import annotations

import logging
import math
from typing import Optional

import keras
import numpy as np

from ptychopinn_plugin.config import ModelConfig, validate_model_config
from ptychopinn_plugin.physics.geometry import canvas_size

from . import group_refine as _refine
from . import layers as _layers
from . import physics_layers as _physics
from .network import build_pinn_generator, build_supervised_generator
from .seeding import SeedStream

logger = logging.getLogger(__name__)

__all__ = [
    "INPUT_NAME",
    "POSITIONS_NAME",
    "PINN_OUTPUTS",
    "SUPERVISED_OUTPUTS",
    "build_models",
    "build_pinn_models",
    "build_supervised_models",
    "custom_objects",
    "find_layer",
    "intensity_scaler_layer",
    "probe_layer",
    "trained_intensity_scale",
    "model_probe",
    "named_weights",
    "set_named_weights",
    "trainable_parameter_count",
    "network_parameter_count",
    "model_channels",
]

INPUT_NAME = "input"
POSITIONS_NAME = "input_positions"
PINN_OUTPUTS = ("trimmed_obj", "pred_amp_scaled", "pred_intensity")
SUPERVISED_OUTPUTS = ("trimmed_obj", "amp", "phase")
SCALER_NAME = "intensity_scaler"
PROBE_NAME = "probe_illumination"

_CUSTOM_CLASSES = (
    _layers.ChannelSlice,
    _layers.ScaledTanh,
    _layers.BorderMask,
    _layers.IntensityScaler,
    _layers.Square,
    _layers.InputScale,
    _layers.IgnoreSecondInput,
    _layers.AddCoords,
    _layers.LogInput,
    _layers.ModulusProjection,
    _physics.AmpPhaseToComplex,
    _physics.ObjectAssembly,
    _physics.TrimObject,
    _physics.ExtractPatches,
    _physics.ProbeIllumination,
    _physics.FarFieldAmplitude,
    _refine.UnitPatch,
    _refine.GroupRefinement,
)


def custom_objects() -> dict[str, type]:
    """Our registered layer classes (and only those) for ``custom_objects`` when loading.

    Keys are both the plain class name and the registered name ``ptychopinn>Class``.
    """
    objects: dict[str, type] = {}
    for cls in _CUSTOM_CLASSES:
        objects[cls.__name__] = cls
        objects[keras.saving.get_registered_name(cls)] = cls
    return objects


def _inputs(n: int, channels: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    diffraction = keras.Input(shape=(n, n, channels), dtype="float32", name=INPUT_NAME)
    positions = keras.Input(shape=(1, 2, channels), dtype="float32", name=POSITIONS_NAME)
    return diffraction, positions


def _check_scale(intensity_scale: float) -> float:
    value = float(intensity_scale)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"intensity_scale must be a finite number > 0; got {intensity_scale!r}")
    return value


def _check_probe(probe: Optional[np.ndarray], n: int) -> np.ndarray:
    if probe is None:
        raise ValueError("build_models: a normalised probe (N, N) complex64 is required for the PINN model")
    probe = np.asarray(probe)
    if probe.ndim == 3 and probe.shape[-1] == 1:
        probe = probe[..., 0]
    if probe.shape != (n, n):
        raise ValueError(f"probe has shape {probe.shape} but the model needs ({n}, {n}) (N = {n})")
    if not np.all(np.isfinite(probe)):
        raise ValueError("probe contains NaN or infinite values")
    return probe.astype(np.complex64)


def build_pinn_models(
    model_config: ModelConfig,
    *,
    intensity_scale: float,
    probe: np.ndarray,
    probe_trainable: bool = False,
    intensity_scale_trainable: bool = True,
    seed: Optional[int] = None,
) -> tuple[keras.Model, keras.Model]:
    """The PINN of physics §4–§8; see the module docstring for inputs and outputs."""
    validate_model_config(model_config, require_n=True)
    n = model_config.N
    channels = model_config.gridsize**2
    scale = _check_scale(intensity_scale)
    probe = _check_probe(probe, n)
    p = canvas_size(n, model_config.gridsize, model_config.offset, model_config.max_position_jitter)
    seeds = SeedStream(seed)

    diffraction, positions = _inputs(n, channels)
    scaler = _layers.IntensityScaler(scale, intensity_scale_trainable, name=SCALER_NAME)
    x = scaler(diffraction)
    if model_config.architecture == "resnet":
        from .network_resnet import build_resnet_generator

        amplitude, phase = build_resnet_generator(x, model_config, channels, seeds, probe)
    else:
        amplitude, phase = build_pinn_generator(x, model_config, channels, seeds)
    patches = _physics.AmpPhaseToComplex(name="object_patches")(amplitude, phase)
    canvas = _physics.ObjectAssembly(n, p, channels, model_config.object_big, name="object_assembly")(
        patches, positions
    )
    illumination = _physics.ProbeIllumination(
        n,
        probe_trainable=probe_trainable,
        gaussian_smoothing_sigma=model_config.gaussian_smoothing_sigma,
        probe_mask=model_config.probe_mask,
        initial_probe=probe,
        name=PROBE_NAME,
    )
    if model_config.group_refine_iterations:  # docs/architecture.md, "Group refinement"
        effective_probe = illumination(_refine.UnitPatch(n, name="unit_patch")(canvas))
        canvas = _refine.GroupRefinement(n, p, channels, model_config.group_refine_iterations,
                                         model_config.group_refine_momentum,
                                         name="group_refinement")(canvas, x, positions, effective_probe)
    trimmed = _physics.TrimObject(n, name="trimmed_obj")(canvas)
    extracted = _physics.ExtractPatches(n, channels, name="extract_patches")(canvas, positions)
    illuminated = illumination(extracted)
    amplitude_pred = _physics.FarFieldAmplitude(n, name="far_field")(illuminated)
    scaled = scaler(amplitude_pred, inverse=True)
    pred_amp_scaled = keras.layers.Identity(name="pred_amp_scaled")(scaled)
    pred_intensity = _layers.Square(name="pred_intensity")(pred_amp_scaled)

    autoencoder = keras.Model(
        [diffraction, positions], [trimmed, pred_amp_scaled, pred_intensity], name="autoencoder"
    )
    diffraction_to_obj = keras.Model([diffraction, positions], trimmed, name="diffraction_to_obj")
    logger.debug(
        "built PINN N=%d gridsize=%d canvas=%d: %d trainable network parameters",
        n, model_config.gridsize, p, network_parameter_count(autoencoder),
    )
    return autoencoder, diffraction_to_obj


def build_supervised_models(
    model_config: ModelConfig, *, intensity_scale: float, seed: Optional[int] = None
) -> tuple[keras.Model, keras.Model]:
    """Supervised PtychoNN-like baseline (physics §9); gridsize must be 1."""
    validate_model_config(model_config, require_n=True)
    if model_config.gridsize != 1:
        raise ValueError(
            f"the supervised model requires gridsize == 1 (got gridsize = {model_config.gridsize})"
        )
    n = model_config.N
    if n % 8:
        raise ValueError(f"the supervised model needs N divisible by 8; got N = {n}")
    scale = _check_scale(intensity_scale)
    seeds = SeedStream(seed)
    diffraction, positions = _inputs(n, 1)
    x = _layers.InputScale(scale, name="input_scale")(diffraction)
    x = _layers.IgnoreSecondInput(name="ignore_positions")(x, positions)
    amp_raw, phase_raw = build_supervised_generator(x, model_config, seeds)
    amplitude = keras.layers.Identity(name="amp")(amp_raw)
    phase = keras.layers.Identity(name="phase")(phase_raw)
    trimmed = _physics.AmpPhaseToComplex(name="trimmed_obj")(amplitude, phase)
    autoencoder = keras.Model([diffraction, positions], [trimmed, amplitude, phase], name="autoencoder")
    diffraction_to_obj = keras.Model([diffraction, positions], trimmed, name="diffraction_to_obj")
    return autoencoder, diffraction_to_obj


def build_models(
    model_config: ModelConfig,
    *,
    intensity_scale: float,
    probe: Optional[np.ndarray] = None,
    probe_trainable: bool = False,
    intensity_scale_trainable: bool = True,
    seed: Optional[int] = None,
) -> tuple[keras.Model, keras.Model]:
    """``(autoencoder, diffraction_to_obj)`` for ``model_config.model_type``.

    ``probe``: the **normalised** probe (physics §6.1), complex ``(N, N)`` (required for
    the PINN, ignored by the supervised model).  ``seed`` fixes the initial weights.
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
def find_layer(model: keras.Model, layer_type: type) -> Optional[keras.layers.Layer]:
    """The first layer of ``model`` of ``layer_type`` (None when absent)."""
    for layer in model.layers:
        if isinstance(layer, layer_type):
            return layer
    return None


def intensity_scaler_layer(model: keras.Model) -> Optional[_layers.IntensityScaler]:
    return find_layer(model, _layers.IntensityScaler)


def probe_layer(model: keras.Model) -> Optional[_physics.ProbeIllumination]:
    return find_layer(model, _physics.ProbeIllumination)


def trained_intensity_scale(model: keras.Model) -> Optional[float]:
    """``exp(w)`` of the model's intensity scaler (None for the supervised model)."""
    layer = intensity_scaler_layer(model)
    return None if layer is None else layer.scale()


def model_probe(model: keras.Model) -> Optional[np.ndarray]:
    """The probe inside ``model`` as complex64 ``(N, N)`` (None if it has no probe layer)."""
    layer = probe_layer(model)
    return None if layer is None else layer.probe()


def non_finite_weights(model: keras.Model) -> list[str]:
    """Paths of the model's weights holding NaN/Inf (empty for a healthy model)."""
    return [str(w.path) for w in model.weights if not np.all(np.isfinite(np.asarray(w)))]


def model_channels(model: keras.Model) -> int:
    """Channels ``C`` the model's ``input`` expects."""
    return int(model.inputs[0].shape[-1])


def named_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """All weights as ``{"layer_name/weight_name": ndarray}`` in ``model.weights`` order.

    Keys are stable, explicit names (``intensity_scaler/log_scale``,
    ``encoder_block{i}_conv{j}/kernel|bias``, ``{amp|phase}_block{i}_conv{j}/…``,
    ``{amp|phase}_object_conv/…``, ``{amp|phase}_border_block_conv{j}/…``,
    ``{amp|phase}_border_conv/…``, ``{amp|phase}_full_block_conv{j}/…`` (pad_object
    False), ``{amp|phase}_output_conv/…`` (supervised),
    ``probe_illumination/probe_real|probe_imag``); match weights across backends by
    key.  The order (Keras' topological layer order, amplitude and phase layers
    interleaved) is deterministic for a given config.  Layouts are Keras': conv kernels
    ``(3, 3, C_in, C_out)`` (torch ``(C_out, C_in, 3, 3)`` = ``kernel.transpose(3, 2, 0, 1)``),
    biases ``(C_out,)``, ``log_scale`` ``()``, probe parts ``(1, N, N, 1)``.
    """
    out: dict[str, np.ndarray] = {}
    for variable in model.weights:
        key = variable.path
        if key in out:
            raise RuntimeError(f"duplicate weight path {key!r} in model {model.name!r}")
        out[key] = np.asarray(keras.ops.convert_to_numpy(variable))
    return out


def set_named_weights(model: keras.Model, weights: dict[str, np.ndarray], strict: bool = True) -> None:
    """Assign weights by the keys of :func:`named_weights` (shapes must match)."""
    variables = {v.path: v for v in model.weights}
    if strict:
        missing = sorted(set(variables) - set(weights))
        unexpected = sorted(set(weights) - set(variables))
        if missing or unexpected:
            raise ValueError(f"weight names differ: missing {missing}, unexpected {unexpected}")
    for key, value in weights.items():
        if key not in variables:
            continue
        variable = variables[key]
        value = np.asarray(value)
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"weight {key!r}: model has shape {tuple(variable.shape)}, got {value.shape}")
        variable.assign(value.astype(variable.dtype))


def trainable_parameter_count(model: keras.Model) -> int:
    """Number of trainable scalars (includes ``w`` / the probe when trainable)."""
    return int(sum(int(np.prod(v.shape)) for v in model.trainable_weights))


def network_parameter_count(model: keras.Model) -> int:
    """Trainable parameters excluding ``w`` and the probe: the numbers quoted in §4.3."""
    excluded = {SCALER_NAME, PROBE_NAME}
    total = 0
    for v in model.trainable_weights:
        if v.path.split("/")[0] in excluded:
            continue
        total += int(np.prod(v.shape))
    return total
