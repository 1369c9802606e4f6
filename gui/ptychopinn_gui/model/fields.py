"""Describe configuration dataclass fields for generated parameter panels.

Why derive instead of hand-writing a form: the configuration dataclasses are the single
source of truth (api spec §2).  The panel must show the same fields, defaults, choices
and ranges, and the same documentation, without a second copy that drifts.  We read

* the type annotations (``Literal`` → choices, ``Optional`` → "may be None", bool/int/
  float/str/Path);
* the attribute docstrings (the string literal right under each field) → tooltips;
* the validator functions' source (``check_int(owner, "name", ..., minimum=1)``,
  ``check_float(..., exclusive_minimum=0.0, maximum=1.0)``, ``check_choice(..., NAMES)``
  and ``cfg.name not in NAMES``) → spin-box ranges and combo-box items.

The ranges are only a convenience for the widgets: the authority remains the dataclass
itself, whose ``ValueError`` is shown inline (see :mod:`.parameters`).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import logging
import sys
import textwrap
import typing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)

__all__ = ["FieldKind", "FieldSpec", "field_docs", "field_specs", "validator_constraints"]

MISSING = dataclasses.MISSING


class FieldKind:
    """Widget families (plain strings so specs stay trivially comparable/picklable)."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    PATH = "path"
    TEXT = "text"
    """Free text parsed as a YAML scalar (e.g. ``devices: int | 'auto'``)."""


@dataclass(frozen=True)
class FieldSpec:
    """Everything a view needs to build and check one widget."""

    name: str
    owner: str
    """Class name, e.g. ``'TrainingConfig'`` (validation messages start with ``owner.name``)."""
    kind: str
    default: Any
    optional: bool = False
    """None is an allowed value (shown as "(none)")."""
    choices: tuple[Any, ...] = ()
    minimum: Optional[float] = None
    exclusive_minimum: Optional[float] = None
    maximum: Optional[float] = None
    doc: str = ""
    annotation: Any = None

    @property
    def lower_bound(self) -> Optional[float]:
        """Smallest value a widget should offer (exclusive bounds are rounded up for ints)."""
        if self.minimum is not None:
            return self.minimum
        if self.exclusive_minimum is not None:
            return self.exclusive_minimum + 1 if self.kind == FieldKind.INT else self.exclusive_minimum
        return None

    @property
    def label(self) -> str:
        return self.name


# ----------------------------------------------------------------------------- docstrings
@lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings: the string literal right after each annotated field."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # pragma: no cover - source unavailable (frozen app)
        return {}
    klass = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if klass is None:
        return {}
    docs: dict[str, str] = {}
    for node, nxt in zip(klass.body, klass.body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


# ----------------------------------------------------------------------------- validators
_CHECKS = {"check_int", "check_float", "check_choice"}
_BOUNDS = ("minimum", "exclusive_minimum", "maximum")


def _literal(node: ast.AST, namespace: dict[str, Any]) -> Any:
    """Value of a constant, a tuple of constants, or a module-level name."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        pass
    if isinstance(node, ast.Name) and node.id in namespace:
        return namespace[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _literal(node.operand, namespace)
        return -value if isinstance(value, (int, float)) else None
    return None


@lru_cache(maxsize=None)
def _validator_constraints_cached(func: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):  # pragma: no cover
        return {}
    namespace = dict(getattr(sys.modules.get(func.__module__), "__dict__", {}))
    out: dict[str, dict[str, Any]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CHECKS:
            if len(node.args) < 3 or not isinstance(node.args[1], ast.Constant):
                continue
            name = node.args[1].value
            entry = out.setdefault(name, {})
            if node.func.id == "check_choice" and len(node.args) >= 4:
                choices = _literal(node.args[3], namespace)
                if choices is not None:
                    entry["choices"] = tuple(choices)
            for kw in node.keywords:
                if kw.arg in _BOUNDS:
                    value = _literal(kw.value, namespace)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        entry[kw.arg] = value
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            # ``cfg.N not in ALLOWED_N`` / ``cfg.deterministic not in (True, False, "warn")``
            left = node.left
            if isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name):
                choices = _literal(node.comparators[0], namespace)
                if isinstance(choices, (tuple, list)) and choices:
                    out.setdefault(left.attr, {}).setdefault("choices", tuple(choices))
    return out


def validator_constraints(*funcs: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """Per field: ``choices`` and numeric bounds found in the validators' source."""
    merged: dict[str, dict[str, Any]] = {}
    for func in funcs:
        for name, entry in _validator_constraints_cached(func).items():
            merged.setdefault(name, {}).update({k: v for k, v in entry.items() if k not in merged.get(name, {})})
    return merged


# ----------------------------------------------------------------------------- annotations
def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) != len(typing.get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return typing.Union[tuple(args)], optional  # type: ignore[return-value]
    return annotation, False


def _kind(annotation: Any, choices: tuple[Any, ...]) -> str:
    if typing.get_origin(annotation) is typing.Literal or choices:
        return FieldKind.CHOICE
    if annotation is bool:
        return FieldKind.BOOL
    if annotation is int:
        return FieldKind.INT
    if annotation is float:
        return FieldKind.FLOAT
    if annotation is Path:
        return FieldKind.PATH
    return FieldKind.TEXT


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def field_specs(cls: type, validators: tuple[Callable[..., Any], ...] = (), *,
                exclude: tuple[str, ...] = ("model",), overrides: Optional[dict[str, dict[str, Any]]] = None
                ) -> list[FieldSpec]:
    """One :class:`FieldSpec` per dataclass field of ``cls`` (in declaration order).

    ``validators``: functions whose source holds the field checks (see module doc).
    ``exclude``: fields left out (nested configs, app-controlled fields).
    ``overrides``: per-field replacements of derived attributes (e.g. a practical maximum).
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    constraints = validator_constraints(*validators)
    specs: list[FieldSpec] = []
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        annotation, optional = _unwrap_optional(hints.get(f.name, Any))
        found = dict(constraints.get(f.name, {}))
        choices: tuple[Any, ...] = ()
        if typing.get_origin(annotation) is typing.Literal:
            choices = tuple(typing.get_args(annotation))
        elif "choices" in found:
            choices = tuple(found["choices"])
        default = _default(f)
        if default is None and not optional:
            optional = True
        if default is None and choices and None not in choices:
            choices = (None, *choices)
        kind = _kind(annotation, choices)
        if kind in (FieldKind.INT, FieldKind.FLOAT) and default is None:
            optional = True
        values: dict[str, Any] = dict(
            name=f.name, owner=cls.__name__, kind=kind, default=default, optional=optional, choices=choices,
            minimum=found.get("minimum"), exclusive_minimum=found.get("exclusive_minimum"),
            maximum=found.get("maximum"), doc=docs.get(f.name, ""), annotation=annotation,
        )
        values.update((overrides or {}).get(f.name, {}))
        specs.append(FieldSpec(**values))
    return specs
