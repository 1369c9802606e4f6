"""YAML configuration files: ``yaml.safe_load`` only, errors name the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import re

import yaml

from ptychopinn_plugin.config.model_config import ModelConfig


class _ConfigLoader(yaml.SafeLoader):
    """``SafeLoader`` that also reads ``1e6`` / ``1.0e9`` as floats.

    YAML 1.1 (PyYAML) only recognises exponents with a sign and a dot (``1.0e+6``), so
    ``nphotons: 1e9`` — how everybody writes photon counts — would arrive as the string
    ``'1e9'`` and fail validation.  Tags that construct Python objects stay refused.
    """


_FLOAT_PATTERN = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_ConfigLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_PATTERN, list("-+0123456789."))


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice; plain YAML would silently keep the last value."""


def _mapping_without_duplicates(loader: _ConfigLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # construct_mapping reports unhashable keys itself
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise DuplicateKeyError(
                None, None, f"key {key!r} appears twice (lines {first_line[key]} and {line}); keep one of them",
                key_node.start_mark,
            )
        first_line[key] = line
    return loader.construct_mapping(node, deep=deep)


_ConfigLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_yaml_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; read/parse errors are re-raised with the path in the message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise type(exc)(f"cannot read configuration file {path}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
    except DuplicateKeyError as exc:
        raise ValueError(f"configuration file {path}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"configuration file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"configuration file {path} must hold a mapping, found {type(data).__name__}")
    return data


def split_model_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate ModelConfig fields (top-level or nested under ``model:``) from the rest."""
    model_names = {f.name for f in dataclasses.fields(ModelConfig)}
    model_values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in values.items():
        if key == "model":
            if not isinstance(value, Mapping):
                raise ValueError(f"'model' must be a mapping of ModelConfig fields (N, gridsize, …); found "
                                 f"{type(value).__name__} {value!r}")
            unknown = sorted(map(str, set(value) - model_names))
            if unknown:
                raise ValueError(f"unknown ModelConfig field(s) under 'model:': {', '.join(unknown)}; "
                                 f"allowed: {', '.join(sorted(model_names))}")
            model_values.update(value)
        elif key in model_names:
            model_values[key] = value
        else:
            other[key] = value
    return model_values, other


def build_config(cls: type, values: Mapping[str, Any], **required: Any) -> Any:
    """Build ``cls`` (Training/InferenceConfig) from a flat or nested mapping.

    Unknown keys raise ``ValueError`` naming them (a typo must not be silently ignored).
    """
    model_values, other = split_model_fields(values)
    own_names = {f.name for f in dataclasses.fields(cls)} - {"model"}
    unknown = sorted(set(other) - own_names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    other.update(required)
    return cls(model=ModelConfig(**model_values), **other)
