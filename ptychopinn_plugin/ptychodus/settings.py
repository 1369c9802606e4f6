"""Ptychodus settings groups of our reconstructor (api spec §5.2) and their translation to configs.

Four groups — ``PtychoPINNModel``, ``PtychoPINNTraining``, ``PtychoPINNInference``,
``PtychoPINNExecution`` — mirror ``ModelConfig``, ``TrainingConfig``, ``InferenceConfig``
and ``PyTorchExecutionConfig`` (api spec §2), plus ``Backend`` and ``DiffractionDomain``.
They are made of Ptychodus's own parameter classes, so its settings file (``.ini``) stores
them and its parameter widgets render them.

Why get-or-create: Ptychodus's built-in PtychoPINN library registers groups with the same
names (``PtychoPINNModel``/``Training``/``Inference``) in the same registry, and a registry
refuses a second group of one name.  When those groups exist we add our parameters to
them and *share* the parameters both libraries define with the same name and meaning
(``GridSize``, ``NumFiltersScale``, ``BatchSize``, ``NumEpochs``, ``NumPhotons``,
``NumNearestNeighbors``, …), so one settings file configures both.  Shared parameters use
Ptychodus's defaults and bounds, whichever library creates them first.

Optional config fields (``None`` in the dataclasses) are integers/reals/strings with a
sentinel: ``0`` (counts and sizes), ``-1`` (seeds) or ``''`` (text) mean "not set".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ptychopinn_plugin.config import InferenceConfig, ModelConfig, PyTorchExecutionConfig, TrainingConfig
from ptychopinn_plugin.config.execution_config import (
    ACCELERATORS,
    CHECKPOINT_MODES,
    CLIP_ALGORITHMS,
    LOGGER_BACKENDS,
    PRECISIONS,
    SCHEDULERS,
    STRATEGIES,
    require_gui_safe_strategy,
)
from ptychopinn_plugin.ptychodus._ptychodus_api import (
    BooleanParameter,
    IntegerParameter,
    Parameter,
    ParameterGroup,
    RealParameter,
    SettingsRegistry,
    StringParameter,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AMP_ACTIVATIONS",
    "BACKENDS",
    "DIFFRACTION_DOMAINS",
    "GROUP_NAMES",
    "ParameterSpec",
    "PtychoPINNSettings",
]

AMP_ACTIVATIONS = ("sigmoid", "swish", "softplus", "relu")
BACKENDS = ("tensorflow", "pytorch")
DIFFRACTION_DOMAINS = ("auto", "intensity", "amplitude")
DETERMINISTIC = ("true", "false", "warn")
GROUP_NAMES = ("PtychoPINNModel", "PtychoPINNTraining", "PtychoPINNInference", "PtychoPINNExecution")


@dataclass(frozen=True)
class ParameterSpec:
    """One settings entry: Ptychodus parameter ``name`` ↔ config ``field``.

    ``kind``: 'int', 'real', 'bool' or 'str'; ``choices`` (str) fill a combo box;
    ``unset`` is the sentinel value that maps to ``None`` in the config; ``label`` and
    ``tip`` are shown by the settings panel; ``supervised`` False hides the entry for the
    Supervised reconstructor (whose physics-free model ignores it).
    """

    name: str
    field: str
    kind: str
    default: Any
    label: str
    tip: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: tuple[str, ...] = ()
    unset: Any = None
    supervised: bool = True


MODEL_SPECS = (
    ParameterSpec("GridSize", "gridsize", "int", 1, "Grid Size:", "Patterns per solution region is gridsize²; "
                  "Supervised always uses 1", minimum=1, maximum=5, supervised=False),
    ParameterSpec("NumFiltersScale", "n_filters_scale", "int", 2, "Num. Filters Scale Factor:",
                  "Scale factor of the number of convolution filters", minimum=1, maximum=4),
    ParameterSpec("AmpActivation", "amp_activation", "str", "sigmoid", "Amplitude Activation Function:",
                  choices=AMP_ACTIVATIONS, supervised=False),
    ParameterSpec("ObjectBig", "object_big", "bool", True, "Object Big",
                  "One real-space patch per pattern, merged in the object frame (typically on)", supervised=False),
    ParameterSpec("ProbeBig", "probe_big", "bool", True, "Probe Big",
                  "Low-resolution reconstruction of the region outside the central N/2 window", supervised=False),
    ParameterSpec("ProbeMask", "probe_mask", "bool", False, "Probe Mask", "Circular mask on the probe",
                  supervised=False),
    ParameterSpec("PadObject", "pad_object", "bool", True, "Pad Object",
                  "Restrict the object to the central N/2 window (enforces oversampling)", supervised=False),
    ParameterSpec("ProbeScale", "probe_scale", "real", 4.0, "Probe Scale Factor:",
                  "Probe normalisation: mean |probe| inside the mask = 1/probe_scale", minimum=0.0),
    ParameterSpec("GaussianSmoothingSigma", "gaussian_smoothing_sigma", "real", 0.0, "Gaussian Smoothing Sigma:",
                  "Smoothing of the probe illumination (0 = off)", minimum=0.0, supervised=False),
    ParameterSpec("Offset", "offset", "int", 4, "Offset:", "Reassembly canvas offset (pixels)", minimum=0,
                  supervised=False),
    ParameterSpec("MaxPositionJitter", "max_position_jitter", "int", 10, "Max. Position Jitter:",
                  "Extra canvas padding (pixels)", minimum=0, supervised=False),
    ParameterSpec("GroupRefineIterations", "group_refine_iterations", "int", 0, "Group Refinement Iterations:",
                  "Error-reduction iterations on each group's canvas against its own patterns, inside the model "
                  "(0 = off; 20 with Grid Size 3 and momentum 0.9 is the measured recipe, docs/architecture.md)",
                  minimum=0,
                  supervised=False),
    ParameterSpec("GroupRefineMomentum", "group_refine_momentum", "real", 0.0, "Group Refinement Momentum:",
                  "Nesterov momentum of the group refinement, in [0, 1) (0 = plain error reduction; 0.9 reaches "
                  "with 20 iterations what plain reaches with 100)", minimum=0.0, maximum=0.99, supervised=False),
)

TRAINING_SPECS = (
    ParameterSpec("Backend", "backend", "str", "tensorflow", "Backend:",
                  "Framework used for training (inference follows the loaded model)", choices=BACKENDS),
    ParameterSpec("NumPhotons", "nphotons", "real", 1e6, "Number of Photons:",
                  "Mean photons per diffraction pattern (sets the Poisson noise level)", minimum=0.0),
    ParameterSpec("NumPhotonsFromData", "nphotons_from_data", "bool", True, "Photons From Data",
                  "Use the photon count recorded in the training file (exported data record it) "
                  "instead of Number of Photons"),
    ParameterSpec("BatchSize", "batch_size", "int", 16, "Batch Size:", minimum=1, maximum=1 << 30),
    ParameterSpec("NumEpochs", "nepochs", "int", 50, "Number of Epochs:", minimum=1),
    ParameterSpec("NumGroups", "n_groups", "int", 512, "Number of Groups:",
                  "Training groups (samples) drawn from the scan", minimum=1),
    ParameterSpec("MAEWeight", "mae_weight", "real", 0.0, "Weight for MAE loss:", minimum=0.0, maximum=1.0,
                  supervised=False),
    ParameterSpec("NLLWeight", "nll_weight", "real", 1.0, "Weight for NLL loss:", minimum=0.0, maximum=1.0,
                  supervised=False),
    ParameterSpec("RealspaceMAEWeight", "realspace_mae_weight", "real", 0.0, "Realspace MAE Weight:",
                  minimum=0.0, maximum=1.0, supervised=False),
    ParameterSpec("RealspaceWeight", "realspace_weight", "real", 0.0, "Realspace Weight:", minimum=0.0,
                  maximum=1.0, supervised=False),
    ParameterSpec("TVWeight", "tv_weight", "real", 0.0, "Total Variation Weight:", minimum=0.0, supervised=False),
    ParameterSpec("NeighborCount", "neighbor_count", "int", 4, "Number of Neighbors:",
                  "K nearest neighbours a training group is drawn from", minimum=1, supervised=False),
    ParameterSpec("EnableOversampling", "enable_oversampling", "bool", False, "Enable Oversampling",
                  "Allow more groups than scan positions (gridsize > 1)", supervised=False),
    ParameterSpec("NeighborPoolSize", "neighbor_pool_size", "int", 0, "Neighbor Pool Size:",
                  "0 = Number of Neighbors", minimum=0, unset=0, supervised=False),
    ParameterSpec("NumSubsample", "n_subsample", "int", 0, "Subsample Positions:", "0 = all positions",
                  minimum=0, unset=0),
    ParameterSpec("SubsampleSeed", "subsample_seed", "int", -1, "Subsample Seed:", "-1 = random", minimum=-1,
                  unset=-1),
    ParameterSpec("SequentialSampling", "sequential_sampling", "bool", False, "Sequential Sampling"),
    ParameterSpec("Seed", "seed", "int", -1, "Seed:", "Seeds grouping and weight initialisation (-1 = random)",
                  minimum=-1, unset=-1),
    ParameterSpec("PositionsProvided", "positions_provided", "bool", True, "Positions Provided", supervised=False),
    ParameterSpec("ProbeTrainable", "probe_trainable", "bool", False, "Probe Trainable",
                  "Optimise the probe during training (experimental)", supervised=False),
    ParameterSpec("IntensityScaleTrainable", "intensity_scale_trainable", "bool", True, "Intensity Scale Trainable",
                  supervised=False),
    ParameterSpec("PretrainSteps", "pretrain_steps", "int", 0, "Synthetic Pretraining Steps:",
                  "Supervised steps on simulated objects through the data's probe before training on the data "
                  "(0 = off; PyTorch backend)", minimum=0, supervised=False),
)

INFERENCE_SPECS = (
    ParameterSpec("DiffractionDomain", "diffraction_domain", "str", "intensity", "Diffraction Domain:",
                  "What Ptychodus's patterns hold: 'intensity' (photon counts, the Ptychodus default), "
                  "'amplitude' (sqrt of counts) or 'auto' (integer dtype = counts). Also used for training "
                  "files that do not record their domain", choices=DIFFRACTION_DOMAINS),
    ParameterSpec("NumNearestNeighbors", "neighbor_count", "int", 7, "Number of Neighbors:",
                  "K nearest neighbours used to form groups (gridsize > 1)", minimum=0),
    ParameterSpec("StitchCropSize", "stitch_crop_size", "int", 20, "Stitch Crop Size:",
                  "Central M×M pixels of each patch used for stitching (even, 2 … N)", minimum=2),
    ParameterSpec("RefineIterations", "refine_iterations", "int", 0, "Refinement Iterations:",
                  "After the network, optimise the stitched object through the forward model and Poisson "
                  "likelihood (probe and positions fixed; needs PyTorch). 0 = off", minimum=0),
)

EXECUTION_SPECS = (
    ParameterSpec("Accelerator", "accelerator", "str", "auto", "Accelerator:", choices=ACCELERATORS),
    ParameterSpec("Devices", "devices", "str", "1", "Devices:", "Number of devices or 'auto'"),
    ParameterSpec("Strategy", "strategy", "str", "auto", "Strategy:", "Use ddp_spawn (not ddp) for multi-GPU",
                  choices=STRATEGIES),
    ParameterSpec("Deterministic", "deterministic", "str", "true", "Deterministic:", choices=DETERMINISTIC),
    ParameterSpec("Precision", "precision", "str", "auto", "Precision:", choices=PRECISIONS),
    ParameterSpec("GradientClipVal", "gradient_clip_val", "real", 0.0, "Gradient Clip Value:", "0 = no clipping",
                  minimum=0.0, unset=0.0),
    ParameterSpec("GradientClipAlgorithm", "gradient_clip_algorithm", "str", "norm", "Gradient Clip Algorithm:",
                  choices=CLIP_ALGORITHMS),
    ParameterSpec("AccumSteps", "accum_steps", "int", 1, "Gradient Accumulation Steps:", minimum=1),
    ParameterSpec("NumWorkers", "num_workers", "int", 0, "Data Loader Workers:", minimum=0),
    ParameterSpec("PinMemory", "pin_memory", "bool", False, "Pin Memory"),
    ParameterSpec("PersistentWorkers", "persistent_workers", "bool", False, "Persistent Workers"),
    ParameterSpec("PrefetchFactor", "prefetch_factor", "int", 0, "Prefetch Factor:", "0 = default", minimum=0,
                  unset=0),
    ParameterSpec("LearningRate", "learning_rate", "real", 1e-3, "Learning Rate:", minimum=0.0),
    ParameterSpec("Scheduler", "scheduler", "str", "ReduceLROnPlateau", "LR Scheduler:", choices=SCHEDULERS),
    ParameterSpec("LRWarmupEpochs", "lr_warmup_epochs", "int", 0, "LR Warm-up Epochs:", minimum=0),
    ParameterSpec("LRMinRatio", "lr_min_ratio", "real", 0.1, "LR Min. Ratio:", minimum=0.0, maximum=1.0),
    ParameterSpec("EarlyStopPatience", "early_stop_patience", "int", 3, "Early Stop Patience:", minimum=1),
    ParameterSpec("EarlyStopMonitor", "early_stop_monitor", "str", "train_loss", "Early Stop Monitor:"),
    ParameterSpec("EnableCheckpointing", "enable_checkpointing", "bool", True, "Enable Checkpointing"),
    ParameterSpec("CheckpointSaveTopK", "checkpoint_save_top_k", "int", 1, "Checkpoints Kept:", "-1 = all",
                  minimum=-1),
    ParameterSpec("CheckpointMonitorMetric", "checkpoint_monitor_metric", "str", "val_loss", "Checkpoint Metric:"),
    ParameterSpec("CheckpointMode", "checkpoint_mode", "str", "min", "Checkpoint Mode:", choices=CHECKPOINT_MODES),
    ParameterSpec("EnableProgressBar", "enable_progress_bar", "bool", False, "Progress Bar"),
    ParameterSpec("LoggerBackend", "logger_backend", "str", "csv", "Logger:", choices=LOGGER_BACKENDS),
    ParameterSpec("MLflowTrackingURI", "mlflow_tracking_uri", "str", "", "MLflow Tracking URI:", unset=""),
    ParameterSpec("MLflowExperiment", "mlflow_experiment", "str", "", "MLflow Experiment:", unset=""),
    ParameterSpec("InferenceBatchSize", "inference_batch_size", "int", 0, "Inference Batch Size:",
                  "0 = default", minimum=0, unset=0),
)

SPECS_BY_GROUP: dict[str, tuple[ParameterSpec, ...]] = dict(zip(
    GROUP_NAMES, (MODEL_SPECS, TRAINING_SPECS, INFERENCE_SPECS, EXECUTION_SPECS)))

_KIND_CLASS: dict[str, type] = {"int": IntegerParameter, "real": RealParameter, "bool": BooleanParameter,
                                "str": StringParameter}


def _get_or_create_group(registry: SettingsRegistry, name: str) -> ParameterGroup:
    try:
        return registry[name]
    except KeyError:
        return registry.create_group(name)


def _get_or_create_parameter(group: ParameterGroup, group_name: str, spec: ParameterSpec) -> Parameter[Any]:
    existing = group.parameters().get(spec.name)
    expected = _KIND_CLASS[spec.kind]
    if existing is not None:
        if not isinstance(existing, expected):
            raise TypeError(
                f"settings {group_name}.{spec.name} already exists as {type(existing).__name__}; "
                f"the PtychoPINN (ptychopinn) library needs a {expected.__name__}"
            )
        return existing
    if spec.kind == "int":
        return group.create_integer_parameter(spec.name, int(spec.default), minimum=_int_or_none(spec.minimum),
                                              maximum=_int_or_none(spec.maximum))
    if spec.kind == "real":
        return group.create_real_parameter(spec.name, float(spec.default), minimum=spec.minimum,
                                           maximum=spec.maximum)
    if spec.kind == "bool":
        return group.create_boolean_parameter(spec.name, bool(spec.default))
    return group.create_string_parameter(spec.name, str(spec.default))


def _int_or_none(value: Optional[float]) -> Optional[int]:
    return None if value is None else int(value)


class SettingsSection:
    """The parameters of one group, addressable by config field name (``section.gridsize``)."""

    def __init__(self, group_name: str, group: ParameterGroup, specs: tuple[ParameterSpec, ...]) -> None:
        self.group_name = group_name
        self.group = group
        self.specs = specs
        self._parameters: dict[str, Parameter[Any]] = {
            spec.field: _get_or_create_parameter(group, group_name, spec) for spec in specs
        }

    def parameter(self, field: str) -> Parameter[Any]:
        return self._parameters[field]

    def __getattr__(self, field: str) -> Parameter[Any]:
        try:
            return self.__dict__["_parameters"][field]
        except KeyError:
            raise AttributeError(f"{self.group_name} has no setting for field {field!r}") from None

    def value(self, field: str) -> Any:
        """The config value of ``field``: sentinel → None, choices checked (case-insensitive)."""
        spec = next(s for s in self.specs if s.field == field)
        raw = self._parameters[field].get_value()
        if spec.unset is not None and raw == spec.unset:
            return None
        if spec.choices:
            text = str(raw).strip()
            for choice in spec.choices:
                if text.casefold() == choice.casefold():
                    return choice
            raise ValueError(
                f"settings {self.group_name}.{spec.name} = {raw!r} is invalid; allowed: {', '.join(spec.choices)}"
            )
        return raw

    def values(self, fields: Optional[tuple[str, ...]] = None) -> dict[str, Any]:
        names = fields if fields is not None else tuple(spec.field for spec in self.specs)
        return {name: self.value(name) for name in names}


class PtychoPINNSettings:
    """All settings of our reconstructors, registered in a Ptychodus ``SettingsRegistry``.

    ``model``, ``training``, ``inference`` and ``execution`` are :class:`SettingsSection`
    objects (attribute per config field, e.g. ``settings.training.nepochs.set_value(2)``).
    The ``*_config`` methods build the validated configuration dataclasses; invalid values
    raise ``ValueError`` naming the field, before any child process starts.
    """

    def __init__(self, registry: SettingsRegistry) -> None:
        sections = []
        for group_name in GROUP_NAMES:
            group = _get_or_create_group(registry, group_name)
            sections.append(SettingsSection(group_name, group, SPECS_BY_GROUP[group_name]))
        self.model, self.training, self.inference, self.execution = sections

    # ------------------------------------------------------------------ plain values
    @property
    def backend(self) -> str:
        return str(self.training.value("backend"))

    @property
    def diffraction_domain(self) -> str:
        return str(self.inference.value("diffraction_domain"))

    @property
    def nphotons_from_data(self) -> bool:
        return bool(self.training.value("nphotons_from_data"))

    @property
    def nepochs(self) -> int:
        return int(self.training.value("nepochs"))

    @property
    def gridsize(self) -> int:
        return int(self.model.value("gridsize"))

    # ------------------------------------------------------------------ configs
    def model_config(self, model_type: str, N: int = 0) -> ModelConfig:  # noqa: N803 - spec name
        """``ModelConfig`` for ``model_type`` ('pinn' or 'supervised'); ``N = 0`` = from the data.

        Supervised models are always built with gridsize 1 (the Supervised panel hides
        the setting; a different value is logged and ignored).
        """
        values = self.model.values()
        if model_type == "supervised" and values["gridsize"] != 1:
            logger.warning("Supervised reconstructor: GridSize = %d ignored (supervised models use gridsize 1)",
                           values["gridsize"])
            values["gridsize"] = 1
        return ModelConfig(N=N, model_type=model_type, **values)

    def training_config(self, model_type: str, *, input_dir: Path, output_dir: Path) -> TrainingConfig:
        """``TrainingConfig`` with ``model.N = 0`` (the child sets it from the data)."""
        values = self.training.values()
        values.pop("nphotons_from_data")
        if values["nphotons"] <= 0:
            raise ValueError(f"settings PtychoPINNTraining.NumPhotons = {values['nphotons']!r} is invalid; "
                             "allowed: > 0")
        return TrainingConfig(
            model=self.model_config(model_type),
            train_data_file=Path(input_dir) / "train_data.npz",
            test_data_file=Path(input_dir) / "test_data.npz",
            output_dir=Path(output_dir),
            **values,
        )

    def inference_config(self, model: ModelConfig, *, backend: str, model_path: Path) -> InferenceConfig:
        """``InferenceConfig`` for the loaded model: one group per scan position (``n_groups=None``)."""
        values = self.inference.values(("neighbor_count", "stitch_crop_size", "refine_iterations"))
        return InferenceConfig(model=model, model_path=Path(model_path), test_data_file=Path(), n_groups=None,
                               backend=backend, output_dir=Path(), **values)

    def execution_config(self) -> PyTorchExecutionConfig:
        values = self.execution.values()
        devices = str(values["devices"]).strip()
        values["devices"] = devices if devices == "auto" else _parse_int("PtychoPINNExecution.Devices", devices)
        values["deterministic"] = {"true": True, "false": False, "warn": "warn"}[values["deterministic"]]
        if values["logger_backend"] is None:
            values["logger_backend"] = "none"
        return require_gui_safe_strategy(PyTorchExecutionConfig(**values), "PtychoPINNExecution.Strategy")


def _parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"settings {name} = {text!r} is invalid; allowed: a positive integer or 'auto'") from None


def visible_specs(group_name: str, model_type: str) -> tuple[ParameterSpec, ...]:
    """The entries the settings panel shows for ``model_type`` ('pinn' or 'supervised')."""
    specs = SPECS_BY_GROUP[group_name]
    if model_type == "supervised":
        return tuple(spec for spec in specs if spec.supervised)
    return specs

