"""One small object per backend: everything the workflows need from a framework.

The workflows never touch TensorFlow or PyTorch themselves.  They resolve a backend by
name (:func:`resolve_backend`) and get a :class:`BackendOps` whose callables wrap the
backend package's public functions.  Both backends speak the same channels-last NumPy
language at this boundary (``(B, N, N, C)`` amplitudes, ``(B, 1, 2, C)`` offsets,
``(B, N, N, 1)`` complex64 objects), so everything above it — grouping, stitching,
archives, CLIs — is written once.

Resolution implements the import rules of api spec §8: only the selected framework is
imported, a missing one raises ``RuntimeError`` with installation guidance (never a
silent fallback to the other backend), and an unknown literal raises ``ValueError``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ptychopinn_plugin.config import PyTorchExecutionConfig, TrainingConfig

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "BackendOps",
    "DEFAULT_PREDICT_BATCH_SIZE",
    "TF_INSTALL_HINT",
    "TORCH_INSTALL_HINT",
    "check_backend_name",
    "import_tf_backend",
    "resolve_backend",
]

BACKENDS = ("tensorflow", "pytorch")

DEFAULT_PREDICT_BATCH_SIZE = 32
"""Groups per prediction call.  One constant for every prediction path (training
evaluation, inference, the compatibility predictor) so that the same inputs always
see the same batching."""

TF_INSTALL_HINT = "pip install 'ptychopinn[tf]' (tensorflow + keras 3)"
TORCH_INSTALL_HINT = "pip install 'ptychopinn[torch]' (torch >= 2.2, lightning, tensordict)"


@dataclass(frozen=True)
class BackendOps:
    """The backend-specific operations, all NumPy in / NumPy out, channels-last.

    * ``train(container, training_config, *, monitor, probe, execution_config)`` →
      a ``TrainResult`` (``autoencoder``, ``diffraction_to_obj``, ``history``,
      ``intensity_scale``, ``intensity_scale_trained``, ``completed``, ``probe``,
      ``history_epochs``);
    * ``predict(model, X_normalised, positions, intensity_scale, batch_size, device=None,
      precision='32-true')`` → complex64 ``(B, N, N, 1)`` (network input ``s·X``); ``device``
      is an accelerator name (``'cpu'``, ``'cuda'``, ``'auto'`` …) and ``precision``
      ('auto', '32-true', 'bf16-mixed') are used by PyTorch, ignored by TensorFlow;
    * ``predict_outputs(autoencoder, X_normalised, positions, intensity_scale,
      batch_size)`` → ``(trimmed_obj, pred_amp_scaled, pred_intensity)`` channels-last,
      or None when the backend offers no such function;
    * ``codec()`` → the archive :class:`~ptychopinn_plugin.archive.PayloadCodec`;
    * ``model_channels(model)``, ``model_probe(model)``, ``trained_intensity_scale(model)``;
    * ``non_finite_weights(model)`` → names of weights holding NaN/Inf (empty when healthy).
    """

    name: str
    train: Callable[..., Any]
    predict: Callable[..., np.ndarray]
    predict_outputs: Optional[Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]]
    codec: Callable[[], Any]
    model_channels: Callable[[Any], int]
    model_probe: Callable[[Any], Optional[np.ndarray]]
    trained_intensity_scale: Callable[[Any], Optional[float]]
    non_finite_weights: Callable[[Any], list[str]]


def check_backend_name(value: object, owner: str = "backend") -> str:
    """The §8 rule-2 literal check: ``ValueError`` naming the value and both literals."""
    if value not in BACKENDS:
        raise ValueError(f"{owner} = {value!r} is invalid; allowed: 'tensorflow' or 'pytorch'")
    return str(value)


def resolve_backend(name: object) -> BackendOps:
    """The operations of backend ``name`` (imports that framework, and only that one)."""
    name = check_backend_name(name)
    if name == "tensorflow":
        return _tensorflow_ops()
    return _pytorch_ops()


# ----------------------------------------------------------------------------- TensorFlow
def import_tf_backend() -> Any:
    """``ptychopinn_plugin.backends.tf`` (TensorFlow missing → the §8 ``RuntimeError``)."""
    try:
        return importlib.import_module("ptychopinn_plugin.backends.tf")
    except ImportError as exc:
        raise RuntimeError(
            f"TensorFlow backend selected, but TensorFlow/Keras cannot be imported ({exc}). "
            f"Install it with: {TF_INSTALL_HINT}; or select backend='pytorch'"
        ) from exc


def _tensorflow_ops() -> BackendOps:
    tfb = import_tf_backend()

    def train(container: Any, training_config: TrainingConfig, *, monitor: Any = None, probe: Any = None,
              execution_config: Optional[PyTorchExecutionConfig] = None) -> Any:
        if execution_config is not None:
            logger.debug("TensorFlow backend: ignoring the PyTorch execution config")
        return tfb.train_models(container, training_config, monitor=monitor, probe=probe)

    def codec() -> Any:
        return importlib.import_module("ptychopinn_plugin.backends.tf.archive_codec").KerasPayloadCodec()

    def predict(model: Any, X_normalised: np.ndarray, positions: np.ndarray, intensity_scale: float,
                batch_size: int = DEFAULT_PREDICT_BATCH_SIZE, device: Optional[str] = None,
                precision: str = "32-true") -> np.ndarray:
        if device is not None:
            logger.debug("TensorFlow backend: device %r ignored (TensorFlow places ops itself)", device)
        # TensorFlow predicts in float32 whatever ``precision`` says (no bf16 policy yet).
        return tfb.predict_objects(model, X_normalised, positions, intensity_scale, batch_size)

    def trained_scale(model: Any) -> Optional[float]:
        return tfb.trained_intensity_scale(model)

    return BackendOps(
        name="tensorflow",
        train=train,
        predict=predict,
        predict_outputs=_keras_predict_outputs,
        codec=codec,
        model_channels=tfb.model_channels,
        model_probe=tfb.model_probe,
        trained_intensity_scale=trained_scale,
        non_finite_weights=tfb.non_finite_weights,
    )


def _keras_predict_outputs(autoencoder: Any, X_normalised: np.ndarray, positions: np.ndarray,
                           intensity_scale: float, batch_size: int = DEFAULT_PREDICT_BATCH_SIZE
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All three autoencoder outputs for ``s·X`` (Keras ``predict_on_batch``; no TF import here)."""
    x = np.asarray(X_normalised)
    pos = np.asarray(positions)
    b, n, _, c = x.shape
    obj = np.empty((b, n, n, 1), dtype=np.complex64)
    amp = np.empty((b, n, n, c), dtype=np.float32)
    inten = np.empty((b, n, n, c), dtype=np.float32)
    s32 = np.float32(intensity_scale)
    for start in range(0, b, int(batch_size)):
        stop = min(start + int(batch_size), b)
        out = autoencoder.predict_on_batch([x[start:stop].astype(np.float32) * s32, pos[start:stop].astype(np.float32)])
        obj[start:stop] = np.asarray(out[0])
        amp[start:stop] = np.asarray(out[1])
        inten[start:stop] = np.asarray(out[2])
    return obj, amp, inten


# ----------------------------------------------------------------------------- PyTorch
def _import_torch_stack() -> None:
    """Import torch, lightning and tensordict up front so a missing one fails here, clearly."""
    for module in ("torch", "lightning", "tensordict"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RuntimeError(
                f"PyTorch backend selected, but {module!r} cannot be imported ({exc}). "
                f"Install the PyTorch stack with: {TORCH_INSTALL_HINT}; or select backend='tensorflow'. "
                "There is no automatic fallback to TensorFlow."
            ) from exc


def _pytorch_ops() -> BackendOps:
    _import_torch_stack()
    training = importlib.import_module("ptychopinn_plugin.backends.torch.training")
    predict = importlib.import_module("ptychopinn_plugin.backends.torch.predict")
    models = importlib.import_module("ptychopinn_plugin.backends.torch.models")

    def train(container: Any, training_config: TrainingConfig, *, monitor: Any = None, probe: Any = None,
              execution_config: Optional[PyTorchExecutionConfig] = None) -> Any:
        return training.train_models(container, training_config, execution_config, monitor=monitor, probe=probe)

    def predict_fn(model: Any, X_normalised: np.ndarray, positions: np.ndarray, intensity_scale: float,
                   batch_size: int = DEFAULT_PREDICT_BATCH_SIZE, device: Optional[str] = None,
                   precision: str = "32-true") -> np.ndarray:
        if device is not None:
            device = {"gpu": "cuda"}.get(device, device)
            if device == "auto":
                device = importlib.import_module("ptychopinn_plugin.backends.torch.execution").resolve_accelerator("auto")
        return predict.predict_objects(model, X_normalised, positions, intensity_scale, batch_size, device=device,
                                       precision=precision)

    def codec() -> Any:
        try:
            module = importlib.import_module("ptychopinn_plugin.backends.torch.archive_codec")
        except ModuleNotFoundError as exc:
            if exc.name != "ptychopinn_plugin.backends.torch.archive_codec":
                raise
            raise RuntimeError(
                "PyTorch backend selected, but this build has no PyTorch model-archive codec "
                "(ptychopinn_plugin.backends.torch.archive_codec); torch archives cannot be saved or loaded yet"
            ) from exc
        return module.TorchPayloadCodec()

    return BackendOps(
        name="pytorch",
        train=train,
        predict=predict_fn,
        predict_outputs=getattr(predict, "predict_outputs", None),
        codec=codec,
        model_channels=models.model_channels,
        model_probe=models.model_probe,
        trained_intensity_scale=models.trained_intensity_scale,
        non_finite_weights=models.non_finite_weights,
    )
