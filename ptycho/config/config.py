"""Re-export of :mod:`ptychopinn_plugin.config` under the original module path."""

from ptychopinn_plugin.config import (  # noqa: F401
    KEY_MAPPINGS,
    InferenceConfig,
    ModelConfig,
    PyTorchExecutionConfig,
    TrainingConfig,
    dataclass_to_legacy_dict,
    load_yaml_config,
    update_legacy_dict,
    validate_inference_config,
    validate_model_config,
    validate_training_config,
)
