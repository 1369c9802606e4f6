"""Configuration: typed, validated, mutable dataclasses (api spec §2).

Single source of truth for settings; the legacy ``params.cfg`` dictionary is written
from these one way with :func:`update_legacy_dict`.  Importing this package loads no
deep-learning framework and no Qt.
"""

from ptychopinn_plugin.config.execution_config import (
    PyTorchExecutionConfig,
    require_gui_safe_strategy,
    validate_execution_config,
)
from ptychopinn_plugin.config.inference_config import (
    ARCHIVE_NAME,
    InferenceConfig,
    check_stitch_crop_size,
    resolve_model_archive,
    validate_inference_config,
)
from ptychopinn_plugin.config.legacy import KEY_MAPPINGS, dataclass_to_legacy_dict, update_legacy_dict
from ptychopinn_plugin.config.model_config import (
    ALLOWED_N,
    ModelConfig,
    neighbour_pool_for,
    require_supported_n,
    validate_model_config,
)
from ptychopinn_plugin.config.refinement_config import RefinementConfig, validate_refinement_config
from ptychopinn_plugin.config.training_config import TrainingConfig, validate_training_config
from ptychopinn_plugin.config.yaml_loader import build_config, load_yaml_config

__all__ = [
    "ALLOWED_N",
    "ARCHIVE_NAME",
    "InferenceConfig",
    "KEY_MAPPINGS",
    "ModelConfig",
    "PyTorchExecutionConfig",
    "RefinementConfig",
    "TrainingConfig",
    "build_config",
    "check_stitch_crop_size",
    "dataclass_to_legacy_dict",
    "load_yaml_config",
    "neighbour_pool_for",
    "require_supported_n",
    "resolve_model_archive",
    "update_legacy_dict",
    "validate_execution_config",
    "require_gui_safe_strategy",
    "validate_inference_config",
    "validate_model_config",
    "validate_refinement_config",
    "validate_training_config",
]
