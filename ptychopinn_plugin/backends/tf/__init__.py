"""TensorFlow / Keras 3 backend (imported only when the TF backend is selected).

Public API (see the individual modules for details):

* models: :func:`build_models`, :func:`custom_objects`, :func:`named_weights`,
  :func:`set_named_weights`, :func:`network_parameter_count`,
  :func:`trained_intensity_scale`, :func:`model_probe`;
* training: :func:`train_models` → :class:`TrainResult`, :class:`TrainingMonitor`,
  :class:`CallbackMonitor`, :func:`compile_models`;
* data: :class:`TrainingArrays`, :func:`center_ground_truth`, :func:`as_tf_dataset`;
* inference: :func:`predict_objects`, :func:`check_input_channels`;
* files: :func:`save_keras_model`, :func:`load_keras_model`, :func:`verify_model_shapes`;
* ops: :func:`translate`, :func:`sample_shifted`.
"""

from ptychopinn_plugin.backends.tf.callbacks import CallbackMonitor, TrainingMonitor
from ptychopinn_plugin.backends.tf.data_views import (
    STREAM_THRESHOLD,
    TrainingArrays,
    as_tf_dataset,
    center_ground_truth,
    validation_split,
)
from ptychopinn_plugin.backends.tf.models import (
    INPUT_NAME,
    PINN_OUTPUTS,
    POSITIONS_NAME,
    SUPERVISED_OUTPUTS,
    build_models,
    custom_objects,
    model_channels,
    model_probe,
    named_weights,
    network_parameter_count,
    non_finite_weights,
    set_named_weights,
    trained_intensity_scale,
)
from ptychopinn_plugin.backends.tf.predict import check_input_channels, predict_objects
from ptychopinn_plugin.backends.tf.saving import load_keras_model, save_keras_model, verify_model_shapes
from ptychopinn_plugin.backends.tf.training import TrainResult, compile_models, train_models
from ptychopinn_plugin.backends.tf.translation import sample_shifted, translate

__all__ = [
    "INPUT_NAME",
    "PINN_OUTPUTS",
    "POSITIONS_NAME",
    "STREAM_THRESHOLD",
    "SUPERVISED_OUTPUTS",
    "CallbackMonitor",
    "TrainResult",
    "TrainingArrays",
    "TrainingMonitor",
    "as_tf_dataset",
    "build_models",
    "center_ground_truth",
    "check_input_channels",
    "compile_models",
    "custom_objects",
    "load_keras_model",
    "model_channels",
    "model_probe",
    "named_weights",
    "network_parameter_count",
    "non_finite_weights",
    "predict_objects",
    "sample_shifted",
    "save_keras_model",
    "set_named_weights",
    "train_models",
    "trained_intensity_scale",
    "translate",
    "validation_split",
    "verify_model_shapes",
]
