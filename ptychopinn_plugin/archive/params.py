"""``params.json`` (schema ``ptychopinn.params/1``, api spec §7.3): build and parse.

The legacy flat dictionary is stored for the compatibility loader, which copies it into
``ptycho.params.cfg``; the typed configurations are stored separately so library code
never has to read configuration back out of the legacy dictionary.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.config import (
    KEY_MAPPINGS,
    ModelConfig,
    TrainingConfig,
    dataclass_to_legacy_dict,
    validate_model_config,
)
from ptychopinn_plugin.archive.jsonio import decode_number, to_json_value
from ptychopinn_plugin.archive.layout import PARAMS_NAME, PARAMS_SCHEMA

logger = logging.getLogger(__name__)

ARRAY_LEGACY_KEYS = frozenset({"probe"})
"""Legacy keys holding arrays; dropped from ``legacy`` because ``probe.npy`` stores them."""


def _model_config_dict(model_config: ModelConfig) -> dict[str, Any]:
    return to_json_value(dataclasses.asdict(model_config), "model_config")


def _training_config_dict(training_config: TrainingConfig) -> dict[str, Any]:
    # The nested model is stored once, under "model_config".
    fields = {f.name: getattr(training_config, f.name) for f in dataclasses.fields(training_config) if f.name != "model"}
    return to_json_value(fields, "training_config")


def build_legacy(
    legacy_params: Mapping[str, Any] | None,
    model_config: ModelConfig,
    training_config: TrainingConfig | None,
    intensity_scale: float,
) -> dict[str, Any]:
    """The flat legacy dictionary: the caller's values, the model fields forced to the
    archived ``model_config`` (they must not disagree), and ``intensity_scale = s``."""
    if legacy_params is None:
        source: dict[str, Any] = dataclass_to_legacy_dict(training_config) if training_config else {}
    else:
        source = dict(legacy_params)
    for key in ARRAY_LEGACY_KEYS & source.keys():
        logger.debug("legacy key %r is stored as an .npy member, not in params.json", key)
        del source[key]
    model_flat = {KEY_MAPPINGS.get(k, k): v for k, v in dataclasses.asdict(model_config).items()}
    for key, value in model_flat.items():
        if key in source and source[key] != value:
            logger.warning(
                "legacy parameter %r = %r disagrees with the archived ModelConfig (%r); storing %r",
                key, source[key], value, value,
            )
        source[key] = value
    source["intensity_scale"] = float(intensity_scale)
    return to_json_value(source, "legacy")


def build_params(
    *,
    model_config: ModelConfig,
    training_config: TrainingConfig | None,
    intensity_scale: float,
    intensity_scale_trained: float,
    legacy_params: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``params.json`` document (JSON-ready)."""
    return {
        "schema": PARAMS_SCHEMA,
        "legacy": build_legacy(legacy_params, model_config, training_config, intensity_scale),
        "model_config": _model_config_dict(model_config),
        "training_config": None if training_config is None else _training_config_dict(training_config),
        "intensity_scale": float(intensity_scale),
        "intensity_scale_trained": to_json_value(float(intensity_scale_trained), "intensity_scale_trained"),
        "N": int(model_config.N),
        "gridsize": int(model_config.gridsize),
    }


def _fail(key: str, found: Any, expected: str) -> None:
    raise ValueError(f"archive member '{PARAMS_NAME}': '{key}' = {found!r} is invalid; expected {expected}")


def _known_fields(cls: type, values: Mapping[str, Any], where: str, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)} - skip
    unknown = sorted(set(values) - names)
    if unknown:
        logger.warning("%s: ignoring unknown %s fields %s (written by a newer ptychopinn?)", PARAMS_NAME, where, unknown)
    return {k: v for k, v in values.items() if k in names}


def parse_model_config(params: Mapping[str, Any]) -> ModelConfig:
    """``ModelConfig`` from ``params['model_config']``, consistent with ``N``/``gridsize``."""
    raw = params.get("model_config")
    if not isinstance(raw, dict):
        _fail("model_config", raw, "an object of ModelConfig fields")
    try:
        cfg = ModelConfig(**_known_fields(ModelConfig, raw, "model_config"))
        validate_model_config(cfg, require_n=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"archive member '{PARAMS_NAME}': invalid model_config: {exc}") from None
    for key in ("N", "gridsize"):
        if params.get(key) != getattr(cfg, key):
            _fail(key, params.get(key), f"{getattr(cfg, key)} (model_config.{key})")
    return cfg


def parse_training_config(params: Mapping[str, Any], model_config: ModelConfig) -> TrainingConfig | None:
    """``TrainingConfig`` (sharing ``model_config``) or ``None`` when none was archived."""
    raw = params.get("training_config")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        _fail("training_config", raw, "an object of TrainingConfig fields or null")
    try:
        return TrainingConfig(model=model_config, **_known_fields(TrainingConfig, raw, "training_config", frozenset({"model"})))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"archive member '{PARAMS_NAME}': invalid training_config: {exc}") from None


def parse_scales(params: Mapping[str, Any]) -> tuple[float, float]:
    """``(intensity_scale s, intensity_scale_trained)``; ``s`` must be finite and > 0 and
    equal ``legacy['intensity_scale']`` (§7.3)."""
    s = decode_number(params.get("intensity_scale"), f"{PARAMS_NAME}: intensity_scale")
    if not (math.isfinite(s) and s > 0):
        _fail("intensity_scale", params.get("intensity_scale"), "a finite number > 0")
    trained = decode_number(params.get("intensity_scale_trained"), f"{PARAMS_NAME}: intensity_scale_trained")
    legacy = params.get("legacy")
    if not isinstance(legacy, dict):
        _fail("legacy", legacy, "an object (the flat legacy parameter dictionary)")
    if legacy.get("intensity_scale") != params.get("intensity_scale"):
        _fail("legacy.intensity_scale", legacy.get("intensity_scale"), f"{s} (the top-level intensity_scale)")
    return s, trained


def parse_params(params: Any) -> tuple[ModelConfig, TrainingConfig | None, float, float]:
    """Validate the whole document; returns the typed pieces."""
    if not isinstance(params, dict):
        raise ValueError(f"archive member '{PARAMS_NAME}': expected a JSON object, found {type(params).__name__}")
    if params.get("schema") != PARAMS_SCHEMA:
        _fail("schema", params.get("schema"), repr(PARAMS_SCHEMA))
    model_config = parse_model_config(params)
    training_config = parse_training_config(params, model_config)
    s, trained = parse_scales(params)
    return model_config, training_config, s, trained


def validate_probe(probe: Any, n: int) -> np.ndarray:
    """The normalised probe as complex64 ``(N, N)``; ``(N, N, 1)`` is squeezed."""
    arr = np.asarray(probe)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != (n, n):
        raise ValueError(f"probe has shape {arr.shape}; expected ({n}, {n}) (N = {n})")
    if arr.dtype.kind not in "fc":
        raise ValueError(f"probe has dtype {arr.dtype}; expected complex64")
    if not np.all(np.isfinite(arr)):
        raise ValueError("probe contains non-finite values")
    return np.ascontiguousarray(arr, dtype=np.complex64)
