"""Training losses of physics §12.1 (PINN) and §9 (supervised) in TensorFlow.

Keras compiles one loss per model output; the weighted sum is the total loss, and the
unweighted per-output values appear in the history as ``<output>_loss``:

| output | loss | weight |
|---|---|---|
| ``trimmed_obj`` | :class:`RealSpaceLoss` ``tv_weight·TV(Õ) + realspace_mae_weight·MAE_c(Õ, Y_c)`` | ``realspace_weight`` |
| ``pred_amp_scaled`` | :class:`AmplitudeMAE` ``mean|pred − s·X|`` | ``mae_weight`` |
| ``pred_intensity`` | :class:`PoissonNLL` ``mean(λ − y·log(max(λ, 1e-12)))`` | ``nll_weight`` |

Keras' base ``Loss.__call__`` casts both arguments to float32, which would drop the
imaginary part of the complex ground truth; our losses override ``__call__``, return
a scalar mean and ignore sample weights (none are used in training).
"""

from __future__ import annotations

from typing import Any, Optional

import keras
import numpy as np
import tensorflow as tf

from ptychopinn_plugin.config import TrainingConfig
from ptychopinn_plugin.physics.geometry import central_window
from ptychopinn_plugin.physics.intensity import NLL_FLOOR

from .layers import PACKAGE
from .physics_layers import safe_abs_angle

__all__ = [
    "poisson_nll",
    "amplitude_mae",
    "total_variation",
    "complex_mae",
    "PoissonNLL",
    "AmplitudeMAE",
    "RealSpaceLoss",
    "ZeroLoss",
    "pinn_losses",
    "supervised_losses",
]


# ----------------------------------------------------------------------------- formulas
def poisson_nll(target_intensity: tf.Tensor, pred_intensity: tf.Tensor) -> tf.Tensor:
    """``L_nll = mean(λ − y·log(max(λ, 1e-12)))``, ``λ`` = predicted, ``y = (s·X)²``."""
    lam = tf.cast(pred_intensity, tf.float32)
    y = tf.cast(target_intensity, tf.float32)
    return tf.reduce_mean(lam - y * tf.math.log(tf.maximum(lam, NLL_FLOOR)))


def amplitude_mae(target: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """``mean |pred − target|`` (real tensors)."""
    return tf.reduce_mean(tf.abs(tf.cast(pred, tf.float32) - tf.cast(target, tf.float32)))


def total_variation(obj: tf.Tensor) -> tf.Tensor:
    """``TV``: sum over the batch of squared forward differences along x and y of the
    real and imaginary parts of ``obj`` ``(B, N, N, 1)`` — a scalar, not averaged."""
    total = tf.constant(0.0, tf.float32)
    for part in (tf.math.real(obj), tf.math.imag(obj)):
        d_rows = part[:, 1:, :, :] - part[:, :-1, :, :]
        d_cols = part[:, :, 1:, :] - part[:, :, :-1, :]
        total += tf.reduce_sum(tf.square(d_rows)) + tf.reduce_sum(tf.square(d_cols))
    return total


def complex_mae(obj: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """``mean| |Õ| − |Y_c| | + mean| angle(Õ) − angle(Y_c) |`` (no phase wrapping)."""
    obj_abs, obj_angle = safe_abs_angle(tf.cast(obj, tf.complex64))
    target = tf.cast(target, tf.complex64)
    target_abs = tf.abs(target)
    target_angle = tf.math.angle(target)
    return tf.reduce_mean(tf.abs(obj_abs - target_abs)) + tf.reduce_mean(tf.abs(obj_angle - target_angle))


# ----------------------------------------------------------------------------- Keras losses
class _ScalarLoss(keras.losses.Loss):
    """A loss that computes its own scalar mean and keeps complex inputs complex."""

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> tf.Tensor:
        with tf.name_scope(self.name):
            return self.call(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
class PoissonNLL(_ScalarLoss):
    """Poisson NLL on ``pred_intensity`` against ``(s·X)²`` (physics §12.1)."""

    def __init__(self, name: str = "poisson_nll", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return poisson_nll(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AmplitudeMAE(_ScalarLoss):
    """``mean |y_pred − y_true|`` on real tensors (``pred_amp_scaled`` vs ``s·X``, or the
    supervised amplitude/phase outputs vs ``|Y|``/``angle(Y)``)."""

    def __init__(self, name: str = "mae", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return amplitude_mae(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroLoss(_ScalarLoss):
    """Constant 0: keeps an output's ``<name>_loss`` entry when its terms are all off."""

    def __init__(self, name: str = "zero_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return tf.constant(0.0, tf.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RealSpaceLoss(_ScalarLoss):
    """``L_rs = tv_weight·TV(Õ) + realspace_mae_weight·MAE_c(Õ, Y_c)`` (physics §12.1).

    ``Õ`` = ``trimmed_obj`` times the central window ``W`` when ``probe_big`` is False
    (``window_N`` = N then; None = no window).  ``y_true`` is the complex ``Y_c``.
    Terms with weight 0 are not computed.
    """

    def __init__(
        self,
        tv_weight: float = 0.0,
        mae_weight: float = 0.0,
        window_N: Optional[int] = None,
        name: str = "realspace",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.tv_weight = float(tv_weight)
        self.mae_weight = float(mae_weight)
        self.window_N = None if window_N is None else int(window_N)
        self._window = (
            None
            if self.window_N is None
            else tf.constant(central_window(self.window_N, dtype=np.float32)[None, :, :, None])
        )

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        obj = tf.cast(y_pred, tf.complex64)
        if self._window is not None:
            obj = obj * tf.cast(self._window, tf.complex64)
        total = tf.constant(0.0, tf.float32)
        if self.tv_weight:
            total += self.tv_weight * total_variation(obj)
        if self.mae_weight:
            total += self.mae_weight * complex_mae(obj, y_true)
        return total

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "tv_weight": self.tv_weight,
            "mae_weight": self.mae_weight,
            "window_N": self.window_N,
        }


def pinn_losses(
    training_config: TrainingConfig, *, has_ground_truth: bool
) -> tuple[list[keras.losses.Loss], list[float]]:
    """Per-output losses and weights for the PINN ``autoencoder`` (order of its outputs).

    Raises ``ValueError`` when the real-space MAE is requested
    (``realspace_weight > 0`` and ``realspace_mae_weight > 0``) without real ground
    truth (a dummy ``Y`` of ones has no meaningful phase or amplitude, §12.1, data §3.1).
    """
    cfg = training_config
    use_mae_rs = cfg.realspace_weight > 0 and cfg.realspace_mae_weight > 0
    if use_mae_rs and not has_ground_truth:
        raise ValueError(
            "TrainingConfig.realspace_mae_weight = "
            f"{cfg.realspace_mae_weight} (with realspace_weight = {cfg.realspace_weight}) needs real ground-truth "
            "object patches, but the training data carry no Y/objectGuess (dummy Y); set realspace_mae_weight = 0 "
            "or provide ground truth"
        )
    window = None if cfg.model.probe_big else cfg.model.N
    if cfg.realspace_weight > 0 and (cfg.tv_weight > 0 or use_mae_rs):
        realspace: keras.losses.Loss = RealSpaceLoss(
            tv_weight=cfg.tv_weight,
            mae_weight=cfg.realspace_mae_weight if use_mae_rs else 0.0,
            window_N=window,
        )
    else:
        realspace = ZeroLoss(name="realspace")
    losses = [realspace, AmplitudeMAE(name="amplitude_mae"), PoissonNLL()]
    weights = [float(cfg.realspace_weight), float(cfg.mae_weight), float(cfg.nll_weight)]
    return losses, weights


def supervised_losses() -> tuple[list[Optional[keras.losses.Loss]], list[float]]:
    """Supervised (§9): no loss on ``trimmed_obj``; MAE on ``amp`` and on ``phase``, weight 1 each."""
    return [None, AmplitudeMAE(name="amp_mae"), AmplitudeMAE(name="phase_mae")], [0.0, 1.0, 1.0]
