"""Copy weights from the TF/Keras model into the torch model (backend parity tests).

Source format: the TF backend's ``named_weights(model)`` — a mapping
``"<keras layer name>/<weight name>" → ndarray`` — or a Keras model (then that helper is
imported lazily, inside the call).  Keras' ``model.weights`` order is topological (the
amplitude and phase branches interleave), so matching is by **name**, never by position:

* each convolution (:class:`.network.Conv3x3`, and the 'resnet' network's 1×1/3×3
  ``nn.Conv2d``) carries its Keras layer name ``L``: ``L/kernel`` ``(k, k, C_in, C_out)``
  → ``weight`` ``(C_out, C_in, k, k)`` (``kernel.transpose(3, 2, 0, 1)``), ``L/bias`` → ``bias``;
* 'resnet' GroupNorm ``L/gamma``, ``L/beta`` → ``weight``, ``bias``; its dense layer
  ``L/kernel`` ``(in, out)`` → ``weight`` ``(out, in)`` (transposed);
* ``intensity_scaler/log_scale`` ``()`` → ``w``;
* ``probe_illumination/probe_real|probe_imag`` ``(1, N, N, 1)`` → ``(1, 1, N, N)``.

Every torch parameter must be assigned and every Keras weight consumed, else
``ValueError`` listing the differences.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Union

import numpy as np
import torch
from torch import nn

__all__ = ["keras_weight_names", "copy_weights_from_keras"]

SCALER_KEY = "intensity_scaler/log_scale"
PROBE_REAL_KEY = "probe_illumination/probe_real"
PROBE_IMAG_KEY = "probe_illumination/probe_imag"


def _core(model: nn.Module) -> nn.Module:
    return getattr(model, "core", model)


def keras_weight_names(torch_model: nn.Module) -> dict[str, tuple[nn.Parameter, str]]:
    """``{keras weight name: (torch parameter, layout)}`` with layout ``conv``, ``bias``,
    ``scalar`` or ``probe``."""
    core = _core(torch_model)
    names: dict[str, tuple[nn.Parameter, str]] = {}
    for module in core.modules():
        keras_name = getattr(module, "keras_name", None)
        if isinstance(module, nn.Conv2d) and keras_name:  # Conv3x3 and the 'resnet' convolutions
            names[f"{keras_name}/kernel"] = (module.weight, "conv")
            names[f"{keras_name}/bias"] = (module.bias, "bias")
        elif isinstance(module, nn.GroupNorm) and keras_name:
            names[f"{keras_name}/gamma"] = (module.weight, "bias")
            names[f"{keras_name}/beta"] = (module.bias, "bias")
        elif isinstance(module, nn.Linear) and keras_name:
            names[f"{keras_name}/kernel"] = (module.weight, "dense")
            names[f"{keras_name}/bias"] = (module.bias, "bias")
    scaler = getattr(core, "scaler", None)
    if scaler is not None:
        names[SCALER_KEY] = (scaler.log_scale, "scalar")
    illumination = getattr(core, "illumination", None)
    if illumination is not None:
        names[PROBE_REAL_KEY] = (illumination.probe_real, "probe")
        names[PROBE_IMAG_KEY] = (illumination.probe_imag, "probe")
    return names


def _to_torch_layout(value: np.ndarray, layout: str) -> np.ndarray:
    if layout == "conv":
        return value.transpose(3, 2, 0, 1)
    if layout == "probe":
        return value.transpose(0, 3, 1, 2)
    if layout == "dense":
        return value.T
    return value


def copy_weights_from_keras(
    torch_model: nn.Module, keras_weights: Union[Mapping[str, np.ndarray], Iterable[tuple[str, np.ndarray]], Any]
) -> None:
    """Assign the TF model's weights to ``torch_model`` (autoencoder, diffraction_to_obj or core).

    ``keras_weights``: ``named_weights(keras_model)`` of the TF backend, an iterable of
    ``(name, array)`` pairs, or the Keras model itself.
    """
    if hasattr(keras_weights, "weights") and hasattr(keras_weights, "layers"):
        from ptychopinn_plugin.backends.tf.models import named_weights  # lazy: TF only when given a Keras model

        keras_weights = named_weights(keras_weights)
    if isinstance(keras_weights, Mapping):
        source = dict(keras_weights.items())
    else:
        pairs = list(keras_weights)
        if pairs and isinstance(pairs[0], np.ndarray):
            raise ValueError(
                "copy_weights_from_keras needs weight names: pass named_weights(keras_model) (TF backend) or the "
                "Keras model, not keras_model.get_weights() — Keras orders weights topologically (the amplitude "
                "and phase branches interleave), so positions cannot be matched reliably"
            )
        source = dict(pairs)
    targets = keras_weight_names(torch_model)
    missing = sorted(set(targets) - set(source))
    unexpected = sorted(set(source) - set(targets))
    if missing or unexpected:
        raise ValueError(f"Keras and torch weights differ: missing in Keras {missing}, not in torch {unexpected}")
    with torch.no_grad():
        for name, (param, layout) in targets.items():
            value = _to_torch_layout(np.asarray(source[name]), layout)
            if tuple(value.shape) != tuple(param.shape):
                raise ValueError(
                    f"weight {name!r}: Keras shape {np.asarray(source[name]).shape} maps to {value.shape}, "
                    f"torch parameter has {tuple(param.shape)}"
                )
            param.copy_(torch.from_numpy(np.array(value, dtype=np.float32, order="C")))
