"""Training losses of physics §12.1 (PINN) and §9 (supervised), identical to the TF backend.

Per batch, means over all elements:

| term (history name) | formula | weight |
|---|---|---|
| ``trimmed_obj_loss`` | ``tv_weight·TV(Õ) + realspace_mae_weight·MAE_c(Õ, Y_c)`` | ``realspace_weight`` |
| ``pred_amp_scaled_loss`` | ``mean|pred_amp_scaled − s·X|`` | ``mae_weight`` |
| ``pred_intensity_loss`` | ``mean(λ − y·log(max(λ, 1e-12)))``, ``y = (s·X)²`` | ``nll_weight`` |

Total ``L = w_rs·L_rs + w_mae·L_mae + w_nll·L_nll`` (the order Keras adds its per-output
losses).  On TensorDict batches (data §3.3) the network input is
``images·(rms_scaling_constant·physics_scaling_constant)`` and the amplitude target is the
same product, so both equal ``s·X`` bit for bit; no division by the mean intensity (the
original torch loss did that; we keep TF semantics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch

from ptychopinn_plugin.config import TrainingConfig
from ptychopinn_plugin.physics.geometry import central_window
from ptychopinn_plugin.physics.intensity import NLL_FLOOR

from .physics import safe_abs_angle

__all__ = [
    "poisson_nll",
    "amplitude_mae",
    "total_variation",
    "complex_mae",
    "LossSpec",
    "pinn_loss_terms",
    "supervised_loss_terms",
    "batch_scale",
]


# ----------------------------------------------------------------------------- formulas
def poisson_nll(target_intensity: torch.Tensor, pred_intensity: torch.Tensor) -> torch.Tensor:
    """``L_nll = mean(λ − y·log(max(λ, 1e-12)))``, ``λ`` = predicted, ``y = (s·X)²``."""
    lam = pred_intensity.float()
    y = target_intensity.float()
    return torch.mean(lam - y * torch.log(torch.clamp(lam, min=NLL_FLOOR)))


def amplitude_mae(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """``mean |pred − target|`` (real tensors)."""
    return torch.mean(torch.abs(pred.float() - target.float()))


def total_variation(obj: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of squared forward differences along x and y of the real and
    imaginary parts of ``obj`` ``(B, 1, N, N)`` — a scalar, not averaged."""
    total = obj.real.new_zeros(())
    for part in (obj.real, obj.imag):
        d_rows = part[..., 1:, :] - part[..., :-1, :]
        d_cols = part[..., :, 1:] - part[..., :, :-1]
        total = total + torch.sum(d_rows * d_rows) + torch.sum(d_cols * d_cols)
    return total


def complex_mae(obj: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean| |Õ| − |Y_c| | + mean| angle(Õ) − angle(Y_c) |`` (no phase wrapping)."""
    obj_abs, obj_angle = safe_abs_angle(obj.to(torch.complex64))
    target = target.to(torch.complex64)
    return torch.mean(torch.abs(obj_abs - torch.abs(target))) + torch.mean(torch.abs(obj_angle - torch.angle(target)))


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class LossSpec:
    """Weights of the PINN loss terms (physics §12.1), resolved from a ``TrainingConfig``."""

    nll_weight: float = 1.0
    mae_weight: float = 0.0
    realspace_weight: float = 0.0
    realspace_mae_weight: float = 0.0
    tv_weight: float = 0.0
    window_N: Optional[int] = None
    """N of the central window applied to ``trimmed_obj`` (probe_big False), else None."""

    @classmethod
    def from_training_config(cls, training_config: TrainingConfig, *, has_ground_truth: bool) -> "LossSpec":
        """Raises ``ValueError`` when the real-space MAE is requested without real ground truth."""
        cfg = training_config
        use_mae_rs = cfg.realspace_weight > 0 and cfg.realspace_mae_weight > 0
        if use_mae_rs and not has_ground_truth:
            raise ValueError(
                "TrainingConfig.realspace_mae_weight = "
                f"{cfg.realspace_mae_weight} (with realspace_weight = {cfg.realspace_weight}) needs real ground-truth "
                "object patches, but the training data carry no Y/objectGuess (dummy Y); set realspace_mae_weight = 0 "
                "or provide ground truth"
            )
        return cls(
            nll_weight=float(cfg.nll_weight),
            mae_weight=float(cfg.mae_weight),
            realspace_weight=float(cfg.realspace_weight),
            realspace_mae_weight=float(cfg.realspace_mae_weight) if use_mae_rs else 0.0,
            tv_weight=float(cfg.tv_weight),
            window_N=None if cfg.model.probe_big else int(cfg.model.N),
        )

    @property
    def realspace_active(self) -> bool:
        return self.realspace_weight > 0 and (self.tv_weight > 0 or self.realspace_mae_weight > 0)

    @property
    def needs_object_target(self) -> bool:
        """True when batches must carry the centred ground truth ``Y_c``."""
        return self.realspace_weight > 0 and self.realspace_mae_weight > 0


def batch_scale(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``rms_scaling_constant · physics_scaling_constant`` ``(B, 1, 1, 1)``: maps ``images`` to ``s·X``."""
    return batch["rms_scaling_constant"] * batch["physics_scaling_constant"]


def _realspace(obj: torch.Tensor, batch: Mapping[str, torch.Tensor], spec: LossSpec) -> torch.Tensor:
    total = obj.real.new_zeros(())
    if not spec.realspace_active:
        return total
    obj = obj.to(torch.complex64)
    if spec.window_N is not None:
        window = torch.from_numpy(central_window(spec.window_N, dtype=np.float32)).to(obj.device)
        obj = obj * window.to(torch.complex64)
    if spec.tv_weight:
        total = total + spec.tv_weight * total_variation(obj)
    if spec.realspace_mae_weight:
        if "label_object" not in batch.keys():
            raise ValueError("the real-space MAE needs the batch key 'label_object' (centred ground truth Y_c)")
        total = total + spec.realspace_mae_weight * complex_mae(obj, batch["label_object"])
    return total


def pinn_loss_terms(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch: Mapping[str, torch.Tensor], spec: LossSpec
) -> dict[str, torch.Tensor]:
    """``{'loss', 'trimmed_obj_loss', 'pred_amp_scaled_loss', 'pred_intensity_loss'}`` for one batch.

    ``outputs`` = the autoencoder's ``(obj, pred_amp_scaled, pred_intensity)``; targets are
    ``scale·images`` and its square with ``scale`` = :func:`batch_scale`.
    """
    obj, pred_amp, pred_intensity = outputs
    target_amp = batch_scale(batch) * batch["images"]
    target_intensity = target_amp * target_amp
    rs = _realspace(obj, batch, spec)
    mae = amplitude_mae(target_amp, pred_amp)
    nll = poisson_nll(target_intensity, pred_intensity)
    total = spec.realspace_weight * rs + spec.mae_weight * mae + spec.nll_weight * nll
    return {"loss": total, "trimmed_obj_loss": rs, "pred_amp_scaled_loss": mae, "pred_intensity_loss": nll}


def supervised_loss_terms(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Supervised (§9): ``MAE(amp, |Y|) + MAE(phase, angle(Y))`` with equal weights."""
    if "label_amp" not in batch.keys() or "label_phase" not in batch.keys():
        raise ValueError("supervised training needs the batch keys 'label_amp' and 'label_phase' (data §3.3)")
    _, amp, phase = outputs
    amp_loss = amplitude_mae(batch["label_amp"], amp)
    phase_loss = amplitude_mae(batch["label_phase"], phase)
    return {"loss": amp_loss + phase_loss, "amp_loss": amp_loss, "phase_loss": phase_loss}
