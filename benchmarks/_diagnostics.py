"""Instruments that show why a PINN stalls (issue #11 item 2), for any generator architecture.

* :func:`relu_and_gradients` — per layer, on one batch: the fraction of units (channel ×
  pixel) whose ReLU never fires for any sample of the batch, and the gradient norm of
  the layer's weights under the training loss.  A unit counts as "ReLU input" when it is
  the output of a convolution followed by ReLU in the reference network (``conv0`` /
  ``conv1`` of every Down/Up block) or of a GroupNorm in the 'resnet' network.
* :func:`branch_spread` — per decoder branch, the standard deviation *across the batch*
  of the output in the central N/2 window, averaged over pixels, next to the spread of
  the ground truth: a network that ignores its input has spread ≈ 0.
* :func:`free_patch_check` — the physics check: per-group free complex patches
  optimised directly through the model's own object assembly, extraction, illumination,
  far field, ``w`` and Poisson NLL (no network).  Its correlation with the true patches
  shows that physics, scaling and gauge are right; whatever the network then fails to
  reach is the network's fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _relu_inputs(core: Any) -> list[tuple[str, Any]]:
    from torch import nn

    picked = []
    for name, module in core.generator.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(module, nn.GroupNorm) or (isinstance(module, nn.Conv2d) and leaf in ("conv0", "conv1")
                                                and "resnet" not in type(core.generator).__module__):
            picked.append((name, module))
    return picked


def relu_and_gradients(core: Any, x: Any, pos: Any, s: float) -> list[tuple[str, float, float]]:
    """``[(layer, dead fraction, weight-gradient norm)]`` on one batch (NLL loss)."""
    import torch

    from ptychopinn_plugin.backends.torch.losses import poisson_nll

    dead: dict[str, float] = {}
    hooks = []
    for name, module in _relu_inputs(core):
        def hook(_m, _inp, out, name=name):  # noqa: ANN001
            dead[name] = float((out.detach() <= 0).all(dim=0).float().mean())
        hooks.append(module.register_forward_hook(hook))
    try:
        core.zero_grad(set_to_none=True)
        _, _, pred_int = core(x, pos, s)
        target = x * s
        poisson_nll(target * target, pred_int).backward()
    finally:
        for h in hooks:
            h.remove()
    rows = []
    modules = dict(core.generator.named_modules())
    for name, fraction in dead.items():
        module = modules[name]
        grad = getattr(module, "weight", None)
        gnorm = float(grad.grad.norm()) if grad is not None and grad.grad is not None else float("nan")
        rows.append((name, fraction, gnorm))
    core.zero_grad(set_to_none=True)
    return rows


def branch_spread(core: Any, x: Any, pos: Any, s: float, y_true: np.ndarray | None = None) -> dict[str, float]:
    """Std across the batch of the amplitude / phase outputs in the central window (mean over pixels)."""
    import torch

    with torch.no_grad():
        amplitude, phase = core.generator(core.scaler(core._scaled_input(x, s)))
    n = amplitude.shape[-1]
    sl = slice(n // 4, 3 * n // 4)
    out = {
        "amp_spread": float(amplitude[..., sl, sl].float().std(dim=0).mean()),
        "phase_spread": float(phase[..., sl, sl].float().std(dim=0).mean()),
    }
    if y_true is not None:
        out["true_amp_spread"] = float(np.abs(y_true)[..., sl, sl].std(axis=0).mean())
    return out


def free_patch_check(core: Any, x: Any, pos: Any, s: float, y_true: np.ndarray, *, steps: int = 400,
                     lr: float = 0.05) -> list[tuple[int, float, float]]:
    """Optimise free patches ``(B, C_out, N, N)`` through the model's physics; returns
    ``[(step, loss, corr)]`` with ``corr`` = correlation of the recovered amplitude with the
    true patch amplitude where |probe| > 10 % of its peak (each group's
    channels ``y_true`` ``(B, C, N, N)`` complex)."""
    import torch

    from ptychopinn_plugin.backends.torch import physics as P
    from ptychopinn_plugin.backends.torch.losses import poisson_nll

    b, c, n, _ = x.shape
    c_out = c if core.object_big else 1
    log_amp = torch.zeros(b, c_out, n, n, requires_grad=True)
    phase = torch.zeros(b, c_out, n, n, requires_grad=True)
    opt = torch.optim.Adam([log_amp, phase], lr=lr)
    window = torch.zeros(n, n)
    window[n // 4: 3 * n // 4, n // 4: 3 * n // 4] = 1
    target = x * s
    truth = torch.from_numpy(np.abs(y_true)).float()
    probe_abs = np.abs(np.asarray(core.illumination.probe()))
    lit = torch.from_numpy(probe_abs > 0.1 * probe_abs.max())  # where the data constrain the object
    rows = []
    for step in range(steps + 1):
        patches = P.amp_phase_to_complex(torch.exp(log_amp) * window, phase * window)
        canvas = core.assembly(patches, pos.float())
        extracted = core.extract(canvas, pos.float())
        amplitude = core.far_field(core.illumination(extracted, None))
        pred = core.scaler(amplitude, inverse=True)
        loss = poisson_nll(target * target, pred * pred)
        if step % max(1, steps // 4) == 0:
            with torch.no_grad():
                est = torch.abs(extracted)[..., lit].reshape(-1)
                tru = truth[..., lit].reshape(-1)
                corr = float(np.corrcoef(est.numpy(), tru.numpy())[0, 1])
            rows.append((step, float(loss), corr))
        if step == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return rows


def oracle_amplitude(core: Any, x: Any, pos: Any, s: float, y_true: np.ndarray) -> Any:
    """The true patches, confined to the central window like the network's output (the
    canvas merge amplifies anything outside it ×1000), through the model's physics, times
    their best global gain against ``s·X`` (the object's gauge differs from the probe's by
    a constant): the prediction of a perfect network, ``(B, C, N, N)``."""
    import torch

    n = x.shape[-1]
    window = torch.zeros(n, n)
    window[n // 4: 3 * n // 4, n // 4: 3 * n // 4] = 1
    y = torch.from_numpy(np.asarray(y_true)).to(torch.complex64)
    if not core.object_big:
        y = y[:, :1]
    with torch.no_grad():
        canvas = core.assembly(y * window, pos.float())
        amplitude = core.far_field(core.illumination(core.extract(canvas, pos.float()), None))
        target = x * s
        return amplitude * torch.sqrt(torch.sum(target**2) / torch.sum(amplitude**2))


def loss_landmarks(core: Any, x: Any, pos: Any, s: float, y_true: np.ndarray) -> dict[str, float]:
    """Poisson NLL of two reference predictions on one batch: the *oracle*
    (:func:`oracle_amplitude`) and the *mean pattern* (every pattern predicted as the
    batch-mean intensity, the best any input-independent output can do).  A training loss
    at the mean-pattern level means the network has learned nothing position-specific."""
    import torch

    from ptychopinn_plugin.backends.torch.losses import poisson_nll

    oracle_amp = oracle_amplitude(core, x, pos, s, y_true)
    with torch.no_grad():
        target = (x * s) ** 2
        oracle = float(poisson_nll(target, oracle_amp**2))
        mean_pattern = float(poisson_nll(target, target.mean(dim=0, keepdim=True).expand_as(target)))
    return {"oracle": oracle, "mean_pattern": mean_pattern}


def switch_report(core: Any, x: Any, pos: Any, s: float, y_true: np.ndarray, loss: str) -> dict[str, float]:
    """The data loss (``'mae'`` or ``'nll'``) of the model on one batch next to the oracle's
    (:func:`oracle_amplitude`): printed where pretraining hands over to the physics loss.
    A model loss far above the oracle means the pretrained network is not an object the
    physics agrees with (issue #11: the ×1000 border of the canvas merge put it 40-800× above)."""
    import torch

    from ptychopinn_plugin.backends.torch.losses import amplitude_mae, poisson_nll

    oracle_amp = oracle_amplitude(core, x, pos, s, y_true)
    with torch.no_grad():
        target = x * s
        _, model_amp, _ = core(x, pos, s)
        if loss == "mae":
            values = amplitude_mae(target, model_amp.float()), amplitude_mae(target, oracle_amp)
        else:
            values = poisson_nll(target**2, model_amp.float() ** 2), poisson_nll(target**2, oracle_amp**2)
    return {"model": float(values[0]), "oracle": float(values[1])}
