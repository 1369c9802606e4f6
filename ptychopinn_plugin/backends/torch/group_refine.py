"""Group-local error reduction inside the PINN (``ModelConfig.group_refine_iterations``).

Why: the generator alone does not learn the diffraction → object map within a CPU budget
(docs/benchmarks.md, "Paper lines benchmark"), yet each group already carries 4
overlapping patterns measured through a known probe — a small ptychography problem that a
few physics iterations solve well.  Measured on held-out 'lines' objects (gridsize 2, disk
probe, paper protocol): error reduction on each group's canvas from a flat start scores
amplitude SSIM 0.47 / 0.64 / 0.78 / 0.83 after 1 / 3 / 10 / 30 iterations, where the best
trained generator had reached 0.48 (docs/architecture.md, "Group refinement").

So the model's object is the generator's canvas *refined* by ``K`` iterations of

    Z_c = crop_N(T_{r_c}(U))                     (the model's own extraction, §5)
    ψ_c = P_e ⊙ Z_c,   P_e = L(P)                (the illumination of §6.2 applied to the probe)
    ψ'_c = IDFT2( N·ifftshift(A_c) · F_c/sqrt(|F_c|² + ε²) ),  F_c = DFT2(ψ_c)
    U ← U + Σ_c T_{−r_c}(pad_P(P_e* ⊙ (ψ'_c − ψ_c))) / (Σ_c T_{−r_c}(pad_P(|P_e|²)) + δ·max)

with optional Nesterov momentum β (``ModelConfig.group_refine_momentum``: the update is
evaluated at ``U + β·(U − U_previous)``), where ``A_c`` is the measured amplitude in the
object's gauge (the network input ``x / exp(w)``, so the refinement agrees with the far
field of §8 and the scale ``w``) and ``L`` the optional smoothing and mask.  ``P_e = L(P)`` equals ``L(P ⊙ Z)/Z`` exactly
without smoothing (the default) and approximately with it (σ ≤ 0.5 in practice): the
iterations are a descent heuristic, and the loss is computed on the refined canvas through
the unchanged forward model, so the physics that is *scored* stays §5–§8 exactly.
Everything runs in float32 with autocast off and is differentiable (the generator learns
the start that the iterations finish).  NumPy reference:
:func:`ptychopinn_plugin.physics.group_refine.group_error_reduction`.

Translations use :func:`.translation.shift_sample` (``grid_sample``): the same bilinear
interpolation as ``sample_shifted`` to float rounding, about 3× faster on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from ptychopinn_plugin.physics.group_refine import MODULUS_EPSILON, REFINE_REGULARISATION

from .translation import shift_sample

__all__ = ["GroupRefinement"]


class GroupRefinement(nn.Module):
    """``K`` error-reduction iterations on each group's canvas (module docstring)."""

    def __init__(self, N: int, canvas_size: int, channels: int, iterations: int, momentum: float = 0.0) -> None:
        super().__init__()
        if iterations < 0:
            raise ValueError(f"GroupRefinement: iterations must be >= 0; got {iterations}")
        self.N = int(N)
        self.canvas_size = int(canvas_size)
        self.channels = int(channels)
        self.iterations = int(iterations)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"GroupRefinement: momentum must be in [0, 1); got {momentum}")
        self.momentum = float(momentum)

    def forward(self, canvas: torch.Tensor, amplitude: torch.Tensor, positions: torch.Tensor,
                probe: torch.Tensor) -> torch.Tensor:
        """``canvas`` (B, 1, P, P) complex64; ``amplitude`` (B, C, N, N) the measured far-field
        amplitude in the object's gauge (fftshifted, §8); ``positions`` (B, C, 1, 2) [x, y];
        ``probe``: the effective probe ``P_e`` (1 or B, 1, N, N) complex64."""
        if self.iterations == 0:
            return canvas
        b, c, n, p = canvas.shape[0], self.channels, self.N, self.canvas_size
        margin = (p - n) // 2
        shifts = positions.float().reshape(b * c, 2)
        dx, dy = shifts[:, 0], shifts[:, 1]
        probe = probe.to(torch.complex64)

        def merge(values: torch.Tensor) -> torch.Tensor:  # (B·C, D, N, N) real → (B, D, P, P)
            moved = shift_sample(values, dy - margin, dx - margin, (p, p))
            return moved.reshape(b, c, values.shape[1], p, p).sum(dim=1)

        power = (probe.real ** 2 + probe.imag ** 2).expand(b, c, n, n).reshape(b * c, 1, n, n)
        weight = merge(power)[:, 0]  # (B, P, P)
        weight = weight + REFINE_REGULARISATION * weight.amax(dim=(-2, -1), keepdim=True)
        target = torch.fft.ifftshift(amplitude.float(), dim=(-2, -1)) * float(n)
        eps = MODULUS_EPSILON * target.mean(dim=(-2, -1), keepdim=True) + 1e-12
        conj_probe = torch.conj(probe)
        u = canvas[:, 0]
        previous = u
        for _ in range(self.iterations):
            start = u + self.momentum * (u - previous) if self.momentum else u
            stacked = torch.stack([start.real, start.imag], dim=1).repeat_interleave(c, dim=0)  # (B·C, 2, P, P)
            patches = shift_sample(stacked, margin - dy, margin - dx, (n, n))
            psi = probe * torch.complex(patches[:, 0], patches[:, 1]).reshape(b, c, n, n)
            spectrum = torch.fft.fft2(psi)
            magnitude = torch.sqrt(spectrum.real ** 2 + spectrum.imag ** 2 + eps * eps)
            projected = torch.fft.ifft2(spectrum * (target / magnitude))
            delta = (conj_probe * (projected - psi)).reshape(b * c, n, n)
            update = merge(torch.stack([delta.real, delta.imag], dim=1))
            previous, u = u, start + torch.complex(update[:, 0], update[:, 1]) / weight
        return u[:, None]
