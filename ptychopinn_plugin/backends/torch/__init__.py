"""PyTorch / Lightning backend (imported only when the PyTorch backend is selected).

Public API (names resolve lazily, so e.g. inference does not import Lightning):

* models: :func:`build_models` → ``(Autoencoder, DiffractionToObj)``,
  :func:`network_parameter_count`, :func:`trained_intensity_scale`, :func:`model_probe`,
  :func:`model_channels`, :func:`copy_weights_from_keras`;
* data: :class:`PtychoDataContainerTorch`, :class:`PtychoDataModule`,
  :class:`GroupBatchDataset`, :func:`validation_split`, :func:`center_ground_truth`;
* memory-mapped data (data §4): :func:`build_mmap_dataset` → :class:`MmapDataset`,
  :class:`MmapDataModule`, :class:`MmapGroupBatchDataset`;
* training: :func:`train_models` / :func:`train_models_mmap` → :class:`TrainResult`,
  :class:`TrainingMonitor`, :class:`CallbackMonitor`, :class:`PtychoLightningModule`,
  :class:`LossSpec`;
* inference: :func:`predict_objects`, :func:`predict_outputs`, :func:`check_input_channels`;
* files: :func:`save_state_dict`, :func:`load_state_dict`; archive codec
  :class:`TorchPayloadCodec` (``archive_codec``);
* ops: :func:`translate`, :func:`sample_shifted`.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_exports


_EXPORTS = {
    "Autoencoder": "models",
    "DiffractionToObj": "models",
    "PINNCore": "models",
    "SupervisedCore": "models",
    "build_models": "models",
    "network_parameter_count": "models",
    "trainable_parameter_count": "models",
    "trained_intensity_scale": "models",
    "model_probe": "models",
    "model_channels": "models",
    "non_finite_weights": "models",
    "copy_weights_from_keras": "weights",
    "keras_weight_names": "weights",
    "PtychoDataContainerTorch": "container",
    "PtychoDataModule": "datamodule",
    "GroupBatchDataset": "datamodule",
    "validation_split": "datamodule",
    "center_ground_truth": "datamodule",
    "BATCH_KEYS": "datamodule",
    "LossSpec": "losses",
    "pinn_loss_terms": "losses",
    "supervised_loss_terms": "losses",
    "PtychoLightningModule": "lightning_module",
    "TrainingMonitor": "monitor",
    "CallbackMonitor": "monitor",
    "TrainResult": "training",
    "train_models": "training",
    "train_models_mmap": "training",
    "build_mmap_dataset": "mmap_dataset",
    "MmapDataset": "mmap_dataset",
    "MmapDataModule": "mmap_datamodule",
    "MmapGroupBatchDataset": "mmap_datamodule",
    "TorchPayloadCodec": "archive_codec",
    "inference_batch_size": "execution",
    "predict_outputs": "predict",
    "predict_objects": "predict",
    "check_input_channels": "predict",
    "save_state_dict": "saving",
    "load_state_dict": "saving",
    "translate": "translation",
    "sample_shifted": "translation",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
