"""Observable parameter sets generated from the configuration dataclasses.

A :class:`ParameterSet` holds the current value of every field of one dataclass
(``ModelConfig``, ``TrainingConfig`` …) and notifies listeners on change; a view binds
one widget per :class:`~.fields.FieldSpec` and writes into it.  :class:`ConfigForm`
combines the sets the app needs and turns them into real configuration objects.

Validation is delegated to the dataclasses: :meth:`ConfigForm.validate` constructs them
and reports each ``ValueError`` on the field it names (``"TrainingConfig.nepochs = 0 is
invalid; …"`` → field ``TrainingConfig.nepochs``), so the text shown inline is exactly
the library's message.  Several invalid fields are found by resetting each reported field
to its default and constructing again.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, PyTorchExecutionConfig, TrainingConfig
from ptychopinn_plugin.config.execution_config import require_gui_safe_strategy, validate_execution_config
from ptychopinn_plugin.config.inference_config import check_stitch_crop_size, validate_inference_fields
from ptychopinn_plugin.config.model_config import validate_model_config, validate_model_fields
from ptychopinn_plugin.config.recipes import MEASURED_RECIPE
from ptychopinn_plugin.config.training_config import is_power_of_two, validate_training_fields

from ptychopinn_gui.model.fields import FieldKind, FieldSpec, field_specs

logger = logging.getLogger(__name__)

__all__ = [
    "APP_CONTROLLED",
    "ConfigForm",
    "ParameterSet",
    "ValidationReport",
    "field_key",
    "parse_field_key",
]

Listener = Callable[[str, Any], None]

APP_CONTROLLED: dict[str, tuple[str, ...]] = {
    # Set by the app, not typed by the user: data files come from the Data panel, outputs go
    # to a per-run working directory (saved/exported explicitly), the backend has its own
    # selector, model_path comes from the Models panel; deprecated/unused fields are hidden.
    "ModelConfig": (),
    "TrainingConfig": ("model", "train_data_file", "test_data_file", "output_dir", "n_images", "positions_provided",
                       "backend"),
    "PyTorchExecutionConfig": (),
    "InferenceConfig": ("model", "model_path", "test_data_file", "output_dir", "n_images", "backend", "debug"),
}

_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    # The app's recipe (issue #11, docs/desktop_app.md): groups of 3×3 patterns (a pool of the
    # 12 nearest neighbours) refined by 20 error-reduction iterations with momentum 0.9 inside
    # the model score 0.87 / 0.97 held-out on the built-in sample untrained and 0.88-0.89 /
    # 0.97 after 1.5-4 training minutes, where the spec's gridsize 1 reaches the flat-object
    # level (0.31-0.46 / 0.79-0.85); docs/architecture.md, "Group refinement".
    "ModelConfig": {field: {"default": MEASURED_RECIPE[field]}
                    for field in ("gridsize", "group_refine_iterations", "group_refine_momentum")},
    # None means 512 after __post_init__: show the effective number.  Oversampling: 512 groups of
    # 3×3 from a 256-position sample (data spec §2.2 refuses more groups than positions without it).
    "TrainingConfig": {"n_groups": {"default": 512, "optional": False},
                       "neighbor_count": {"default": MEASURED_RECIPE["neighbor_count"]},
                       "enable_oversampling": {"default": MEASURED_RECIPE["enable_oversampling"]}},
    # Upper bound N is checked against the model at run time (physics §10).
    "InferenceConfig": {"stitch_crop_size": {"minimum": 2, "maximum": 256},
                        "neighbor_count": {"default": MEASURED_RECIPE["neighbor_count"]}},
}

_VALIDATORS: dict[str, tuple[Callable[..., Any], ...]] = {
    "ModelConfig": (validate_model_fields,),
    "TrainingConfig": (validate_training_fields,),
    "PyTorchExecutionConfig": (validate_execution_config,),
    "InferenceConfig": (validate_inference_fields, check_stitch_crop_size),
}

_CLASSES: dict[str, type] = {
    "ModelConfig": ModelConfig,
    "TrainingConfig": TrainingConfig,
    "PyTorchExecutionConfig": PyTorchExecutionConfig,
    "InferenceConfig": InferenceConfig,
}

_FIELD_RE = re.compile(r"^\s*(?P<owner>[A-Za-z_]\w*)\.(?P<field>[A-Za-z_]\w*)\b")


def field_key(owner: str, name: str) -> str:
    return f"{owner}.{name}"


def parse_field_key(message: str, known: Iterable[str] = ()) -> Optional[str]:
    """``'Owner.field'`` named at the start of a validation message, else None.

    Messages without an owner prefix (``"stitch_crop_size = 3 is invalid"``) are matched
    against ``known`` keys by their field name.
    """
    match = _FIELD_RE.match(message)
    if match and match.group("owner") in _CLASSES:
        return field_key(match.group("owner"), match.group("field"))
    head = message.split(" ", 1)[0]
    for key in known:
        if key.split(".", 1)[1] == head:
            return key
    return None


class ParameterSet:
    """Current values of one configuration class, observable (Qt-free)."""

    def __init__(self, cls: type, specs: Optional[list[FieldSpec]] = None) -> None:
        self.cls = cls
        self.owner = cls.__name__
        if specs is None:
            specs = field_specs(cls, _VALIDATORS.get(self.owner, ()), exclude=APP_CONTROLLED.get(self.owner, ()),
                                overrides=_OVERRIDES.get(self.owner))
        self.specs: list[FieldSpec] = specs
        self._by_name = {s.name: s for s in specs}
        self._values: dict[str, Any] = {s.name: s.default for s in specs}
        self._listeners: list[Listener] = []

    # ---------------------------------------------------------------- values
    def spec(self, name: str) -> FieldSpec:
        return self._by_name[name]

    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def get(self, name: str) -> Any:
        return self._values[name]

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def set(self, name: str, value: Any, *, notify: bool = True) -> None:
        if name not in self._by_name:
            raise KeyError(f"{self.owner} has no editable field {name!r}; fields: {', '.join(self.names())}")
        value = coerce(self._by_name[name], value)
        if self._values[name] == value and type(self._values[name]) is type(value):
            return
        self._values[name] = value
        if notify:
            for listener in list(self._listeners):
                listener(name, value)

    def update(self, values: dict[str, Any], *, strict: bool = True) -> list[str]:
        """Set several fields; unknown names raise (``strict``) or are returned."""
        unknown = [k for k in values if k not in self._by_name]
        if unknown and strict:
            raise ValueError(f"unknown {self.owner} field(s): {', '.join(sorted(unknown))}")
        for key, value in values.items():
            if key in self._by_name:
                self.set(key, value)
        return unknown

    def reset(self) -> None:
        for s in self.specs:
            self.set(s.name, s.default)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def to_plain(self) -> dict[str, Any]:
        """YAML-safe values (paths as strings)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self._values.items()}


def coerce(spec: FieldSpec, value: Any) -> Any:
    """Light conversions a widget or YAML may need (str → Path, '' → None); no validation."""
    if value is None or (isinstance(value, str) and value == "" and spec.optional):
        return None
    if spec.kind == FieldKind.PATH and isinstance(value, str):
        return Path(value)
    if spec.kind == FieldKind.FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@dataclass
class ValidationReport:
    """Outcome of :meth:`ConfigForm.validate`."""

    errors: dict[str, str] = field(default_factory=dict)
    """``'Owner.field'`` → the library's message."""
    general: list[str] = field(default_factory=list)
    """Errors that name no single field (cross-field rules)."""
    warnings: dict[str, str] = field(default_factory=dict)
    """Non-blocking remarks (e.g. a batch size that is not a power of two)."""

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def messages(self) -> list[str]:
        return [*self.errors.values(), *self.general]


class _QuietConfigLogs:
    """Validation constructs configs on every edit: keep their WARNINGs (shown inline) out of the log."""

    NAMES = ("ptychopinn_plugin.config.training_config", "ptychopinn_plugin.config.execution_config")

    def __enter__(self) -> None:
        self._levels = [(logging.getLogger(n), logging.getLogger(n).level) for n in self.NAMES]
        for lg, _ in self._levels:
            lg.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for lg, level in self._levels:
            lg.setLevel(level)


def _construct_all(build: Callable[[dict[str, dict[str, Any]]], Any], sets: dict[str, ParameterSet]
                   ) -> tuple[Any, ValidationReport]:
    """Construct via ``build`` repeatedly, resetting each reported field, to find every bad field."""
    with _QuietConfigLogs():
        return _construct_all_loud(build, sets)


def _construct_all_loud(build: Callable[[dict[str, dict[str, Any]]], Any], sets: dict[str, ParameterSet]
                        ) -> tuple[Any, ValidationReport]:
    report = ValidationReport()
    values = {owner: ps.values() for owner, ps in sets.items()}
    known = [field_key(o, n) for o, ps in sets.items() for n in ps.names()]
    for _ in range(len(known) + 1):
        try:
            return build(values), report
        except (ValueError, TypeError) as exc:
            message = str(exc)
            key = parse_field_key(message, known)
            if key is None or key in report.errors or key not in known:
                report.general.append(message)
                return None, report
            report.errors[key] = message
            owner, name = key.split(".", 1)
            values[owner][name] = sets[owner].spec(name).default
    return None, report  # pragma: no cover - bounded by the number of fields


def _gui_execution_config(values: dict[str, Any]) -> PyTorchExecutionConfig:
    """The execution config, with 'ddp' refused: training runs under the app (api spec §2.6)."""
    return require_gui_safe_strategy(PyTorchExecutionConfig(**values), "PyTorchExecutionConfig.strategy")


class ConfigForm:
    """The parameter sets of the app and their conversion to configuration objects."""

    def __init__(self) -> None:
        self.model = ParameterSet(ModelConfig)
        self.training = ParameterSet(TrainingConfig)
        self.torch = ParameterSet(PyTorchExecutionConfig)
        self.inference = ParameterSet(InferenceConfig)
        self.backend: str = "tensorflow"
        self.data_n: Optional[int] = None
        """Pattern side of the loaded training data (N must equal it)."""
        self.test_n: Optional[int] = None
        """Pattern side of the loaded test data (must equal N too)."""

    @property
    def sets(self) -> dict[str, ParameterSet]:
        return {ps.owner: ps for ps in (self.model, self.training, self.torch, self.inference)}

    # ---------------------------------------------------------------- builders
    def _training(self, values: dict[str, dict[str, Any]], **extra: Any) -> TrainingConfig:
        model = ModelConfig(**values["ModelConfig"])
        return TrainingConfig(model=model, backend=self.backend, **values["TrainingConfig"], **extra)

    def training_config(self, **extra: Any) -> TrainingConfig:
        """A ``TrainingConfig`` from the current values (``ValueError`` when invalid)."""
        return self._training({o: ps.values() for o, ps in self.sets.items()}, **extra)

    def execution_config(self) -> PyTorchExecutionConfig:
        return _gui_execution_config(self.torch.values())

    def inference_config(self, model: ModelConfig, model_path: Path, test_data_file: Path,
                         backend: str, **extra: Any) -> InferenceConfig:
        return InferenceConfig(model=model, model_path=model_path, test_data_file=test_data_file, backend=backend,
                               **self.inference.values(), **extra)

    # ---------------------------------------------------------------- validation
    def validate(self) -> ValidationReport:
        """Check every set as a run would; messages are the library's own."""
        sets = {"ModelConfig": self.model, "TrainingConfig": self.training}
        config, report = _construct_all(lambda v: self._training(v), sets)
        if config is not None:
            self._workflow_checks(config, report)
        _, torch_report = _construct_all(lambda v: _gui_execution_config(v["PyTorchExecutionConfig"]),
                                         {"PyTorchExecutionConfig": self.torch})
        if self.backend == "pytorch":
            report.errors.update(torch_report.errors)
            report.general.extend(torch_report.general)
        dummy = ModelConfig(N=self.model.get("N") if self.model.get("N") in (64, 128, 256) else 64)
        _, inf_report = _construct_all(
            lambda v: InferenceConfig(model=dummy, model_path=Path("."), test_data_file=Path("."),
                                      **v["InferenceConfig"]),
            {"InferenceConfig": self.inference},
        )
        report.errors.update(inf_report.errors)
        report.general.extend(inf_report.general)
        if not inf_report.errors and dummy.N:
            try:
                check_stitch_crop_size(self.inference.get("stitch_crop_size"), dummy.N)
            except ValueError as exc:
                report.errors["InferenceConfig.stitch_crop_size"] = str(exc)
        return report

    def _workflow_checks(self, config: TrainingConfig, report: ValidationReport) -> None:
        """The checks a run applies after construction (workflow entry, grouping)."""
        known = [field_key(o, n) for o, ps in self.sets.items() for n in ps.names()]
        try:
            validate_model_config(config.model, require_n=True)
        except ValueError as exc:
            key = parse_field_key(str(exc), known)
            if key is not None:
                report.errors[key] = str(exc)
            else:
                report.general.append(str(exc))
        m = config.model
        c = m.gridsize ** 2
        if self.data_n is not None and m.N != self.data_n:
            report.errors["ModelConfig.N"] = (
                f"ModelConfig.N = {m.N} is invalid; the loaded training data hold {self.data_n}×{self.data_n} patterns"
            )
        if self.test_n is not None and m.N != self.test_n:
            report.general.append(
                f"the test data hold {self.test_n}×{self.test_n} patterns but ModelConfig.N = {m.N}; "
                "open test data with the same pattern size or clear them")
        if m.model_type == "supervised" and m.gridsize != 1:
            report.errors.setdefault(
                "ModelConfig.gridsize", f"supervised training requires gridsize == 1 (got gridsize = {m.gridsize})")
        if m.gridsize > 1 and config.neighbor_count < c:
            report.errors.setdefault(
                "TrainingConfig.neighbor_count",
                f"TrainingConfig.neighbor_count = {config.neighbor_count} is invalid; allowed: >= gridsize² = {c}")
        if not is_power_of_two(config.batch_size):
            report.warnings["TrainingConfig.batch_size"] = (
                f"TrainingConfig.batch_size = {config.batch_size} is not a power of two (allowed, but unusual)")

    # ---------------------------------------------------------------- presets
    def to_preset(self) -> dict[str, Any]:
        """CLI-compatible training YAML (``model:`` + TrainingConfig fields) plus two GUI sections."""
        doc: dict[str, Any] = {"model": self.model.to_plain()}
        doc.update(self.training.to_plain())
        doc["backend"] = self.backend
        doc["torch_execution"] = self.torch.to_plain()
        doc["inference"] = self.inference.to_plain()
        return doc

    def apply_preset(self, doc: dict[str, Any]) -> list[str]:
        """Apply a preset mapping; returns ignored (app-controlled) keys; unknown keys raise ``ValueError``."""
        from ptychopinn_plugin.config.yaml_loader import split_model_fields

        doc = dict(doc)
        torch_values = doc.pop("torch_execution", None) or {}
        inference_values = doc.pop("inference", None) or {}
        model_values, other = split_model_fields(doc)
        backend = other.pop("backend", None)
        ignored = [k for k in other if k in APP_CONTROLLED["TrainingConfig"]]
        for key in ignored:
            other.pop(key)
        training_fields = {f.name for f in dataclasses.fields(TrainingConfig)}
        unknown = sorted(set(other) - training_fields) + sorted(set(model_values) - set(self.model.names()))
        if unknown:
            raise ValueError(f"unknown preset field(s): {', '.join(unknown)}")
        if backend is not None:
            if backend not in ("tensorflow", "pytorch"):
                raise ValueError(f"backend = {backend!r} is invalid; allowed: 'tensorflow' or 'pytorch'")
            self.backend = backend
        self.model.update(model_values)
        self.training.update(other)
        ignored += [f"torch_execution.{k}" for k in self.torch.update(torch_values, strict=False)]
        inf_ignored = self.inference.update(
            {k: v for k, v in inference_values.items() if k not in APP_CONTROLLED["InferenceConfig"]}, strict=False)
        ignored += [f"inference.{k}" for k in inf_ignored]
        return ignored
