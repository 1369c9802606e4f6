"""Command-line/YAML configuration: flags generated from the dataclass fields (api spec §9).

One flag per ``ModelConfig`` and ``TrainingConfig``/``InferenceConfig`` field, spelled
``--<field>`` and generated from the dataclasses themselves, so the CLI can never drift
from the configuration: the type comes from the annotation (``Literal`` → choices,
``bool`` → ``--x/--no-x``, ``Optional[int]`` → int, paths → str), the help text from the
field's docstring.  Every flag defaults to "not given" (None), which is what makes the
precedence CLI > YAML > dataclass defaults possible.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import logging
import os
import textwrap
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, TrainingConfig, build_config, load_yaml_config
from ptychopinn_plugin.config.yaml_loader import split_model_fields

logger = logging.getLogger(__name__)

__all__ = [
    "add_config_arguments",
    "config_field_names",
    "merge_config_values",
    "data_pattern_size",
    "build_training_parser",
    "parse_arguments",
    "setup_configuration",
    "update_config_from_dict",
]

ConfigClass = Union[type[TrainingConfig], type[InferenceConfig]]


@lru_cache(maxsize=None)
def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal right after each annotated field)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover - source unavailable
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _argument_spec(annotation: Any) -> dict[str, Any]:
    """argparse keywords for one field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _argument_spec(inner[0])
        return {"type": str}
    if origin is typing.Literal:
        return {"type": type(args[0]), "choices": list(args)}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if annotation in (int, float, str):
        return {"type": annotation}
    if annotation is Path or (isinstance(annotation, type) and issubclass(annotation, os.PathLike)):
        return {"type": str, "metavar": "PATH"}
    return {"type": str}


def config_field_names(config_cls: ConfigClass) -> tuple[str, ...]:
    """Every flag name: ModelConfig fields, then the config's own fields (``model`` excluded)."""
    model = [f.name for f in dataclasses.fields(ModelConfig)]
    own = [f.name for f in dataclasses.fields(config_cls) if f.name != "model"]
    return tuple(model + own)


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: ConfigClass = TrainingConfig,
                         *, exclude: Sequence[str] = ()) -> None:
    """Add ``--<field>`` for every ModelConfig and ``config_cls`` field (default None = not given)."""
    for cls, title in ((ModelConfig, "model (ModelConfig)"), (config_cls, config_cls.__name__)):
        group = parser.add_argument_group(title)
        hints = typing.get_type_hints(cls)
        docs = _field_docs(cls)
        for field in dataclasses.fields(cls):
            if field.name == "model" or field.name in exclude:
                continue
            spec = _argument_spec(hints[field.name])
            default = field.default if field.default is not dataclasses.MISSING else (
                field.default_factory() if field.default_factory is not dataclasses.MISSING else "required")
            doc = docs.get(field.name, "")
            help_text = f"{doc} [default: {default}]".strip().replace("%", "%%")
            if field.name == "n_images":
                help_text = "deprecated alias of --n_groups (warns)"
            group.add_argument(f"--{field.name}", dest=field.name, default=None, help=help_text, **spec)


def data_pattern_size(path: Union[str, "os.PathLike[str]"]) -> int:
    """Diffraction pattern side ``N`` of a dataset NPZ, read from the member header only."""
    from ptychopinn_plugin.data.npz_dataset import resolve_diffraction_key
    from ptychopinn_plugin.data.npz_io import NpzReader

    with NpzReader(path) as reader:
        key = resolve_diffraction_key(reader)
        shape = reader.shape(key)
        if shape is None:
            shape = reader.read(key).shape
    if len(shape) < 3:
        raise ValueError(f"{path}: '{key}' has shape {shape}; expected (M, N, N) diffraction patterns")
    # (M, N, N), (M, N, N, 1) and the legacy (N, N, M) all carry N on axis 1.
    return int(shape[1])


def merge_config_values(args: Union[argparse.Namespace, Mapping[str, Any], None], yaml_path: Any = None,
                        config_cls: ConfigClass = TrainingConfig) -> dict[str, Any]:
    """Flat field values with the precedence CLI > YAML > (dataclass defaults, applied later).

    ``args``: a Namespace/mapping whose config-field entries are None when not given;
    entries that are not configuration fields (``config``, ``log_level`` …) are ignored.
    YAML may nest model fields under ``model:``.
    """
    values: dict[str, Any] = {}
    if yaml_path:
        model_values, other = split_model_fields(load_yaml_config(yaml_path))
        values.update(other)
        values.update(model_values)
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    names = set(config_field_names(config_cls))
    for key, value in given.items():
        if key in names and value is not None:
            values[key] = value
    if values.get("n_images") is not None:
        logger.warning("n_images is deprecated; use n_groups")
    return values


def build_training_parser(parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    """A parser with ``--config YAML`` and one flag per training configuration field."""
    parser = parser or argparse.ArgumentParser(description="PtychoPINN training configuration")
    parser.add_argument("--config", metavar="YAML", default=None, help="YAML configuration (CLI values override it)")
    add_config_arguments(parser, TrainingConfig)
    return parser


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse training flags (``sys.argv[1:]`` when ``argv`` is None); unknown flags are errors."""
    return build_training_parser().parse_args(argv)


def setup_configuration(args: Union[argparse.Namespace, Mapping[str, Any], None],
                        yaml_path: Any = None) -> TrainingConfig:
    """``TrainingConfig`` from parsed flags and an optional YAML file (CLI > YAML > defaults).

    ``yaml_path=None`` uses ``args.config`` when present.  When neither gives ``N``, it is
    taken from the training data file (the side of its diffraction patterns).
    """
    if yaml_path is None and isinstance(args, argparse.Namespace):
        yaml_path = getattr(args, "config", None)
    values = merge_config_values(args, yaml_path, TrainingConfig)
    if "N" not in values and values.get("train_data_file"):
        values["N"] = data_pattern_size(values["train_data_file"])
        logger.info("N = %d taken from %s", values["N"], values["train_data_file"])
    return build_config(TrainingConfig, values)


def update_config_from_dict(config: Union[TrainingConfig, InferenceConfig],
                            updates: Mapping[str, Any]) -> Union[TrainingConfig, InferenceConfig]:
    """A new configuration with ``updates`` applied (flat, or model fields under ``model:``).

    The input object is not modified.  Unknown keys raise ``ValueError`` naming them;
    the result is validated like any freshly built configuration.
    """
    model_updates, other = split_model_fields(updates)
    own = {f.name for f in dataclasses.fields(config)} - {"model"}
    unknown = sorted(set(other) - own)
    if unknown:
        raise ValueError(f"unknown {type(config).__name__} field(s): {', '.join(unknown)}")
    model = dataclasses.replace(config.model, **model_updates)
    return dataclasses.replace(config, model=model, **other)
