"""Reference points for judging a trained model's quality on the recipe's simulated data.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_quality_baselines.py [--no-doc]

NumPy only (no training, ~10 s).  Two tables, both on the time-to-quality recipe's data
(``RECIPE_SIMULATION``, gridsize 1, one group per position):

1. **Held-out SSIM baselines** — the stitching and scoring path of the benchmark fed with
   known patch sets instead of a network: the ground-truth patches (the best any model
   can score through this path: bilinear resampling of fractional positions costs a
   little), a flat object (what a network that ignores its input scores), and the
   ground-truth patches assigned to the wrong positions.
2. **Poisson NLL landmarks** (physics §12.1, the training loss, on the training set):
   the NLL of the exact noise-free forward model of the true object (at the best global
   gain; the floor any model can reach), of predicting every pattern as the mean
   pattern of the dataset (no per-position information at all), of a flat object, and
   the saturated value ``λ = y``.  A trained model's loss between the mean-pattern and
   the oracle value shows what fraction of the learnable per-position information it
   has picked up: ``(L_mean − L_model) / (L_mean − L_oracle)``.

Results go to stdout, ``benchmarks/results/quality_baselines.json`` and (unless
``--no-doc``) the "## Quality reference points" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _bench_common import publish  # noqa: E402
from _tf_pipeline import (  # noqa: E402
    RECIPE_PATH,
    RECIPE_SIMULATION,
    evaluate_patches,
    load_recipe,
    make_container,
    simulate_raw,
)
from ptychopinn_plugin.physics.intensity import intensity_scale  # noqa: E402
from ptychopinn_plugin.physics.probe import normalise_probe  # noqa: E402

HEADING = "## Quality reference points"


def far_field_amplitude(probe: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """Physics §8 items 1–3 in float64: ``sqrt(fftshift(|DFT2(P·O)|²)/N²)``."""
    n = probe.shape[-1]
    field = np.fft.fft2(probe[None].astype(np.complex128) * patches.astype(np.complex128))
    return np.sqrt(np.fft.fftshift(np.abs(field) ** 2, axes=(1, 2)) / n**2)


def poisson_nll(lam: np.ndarray, counts: np.ndarray) -> float:
    """Physics §12.1 ``mean(λ − y·log(max(λ, 1e-12)))``."""
    return float(np.mean(lam - counts * np.log(np.maximum(lam, 1e-12))))


def nll_at_best_gain(amplitude: np.ndarray, counts: np.ndarray) -> float:
    """NLL of ``(g·amplitude)²`` with the global gain ``g`` that matches the total counts
    (the Poisson maximum-likelihood gain; a trainable ``w`` can reach it)."""
    gain2 = counts.sum() / np.sum(amplitude**2)
    return poisson_nll(gain2 * amplitude**2, counts)


def ssim_baselines() -> dict[str, list[float]]:
    raw = simulate_raw(RECIPE_SIMULATION, 1)
    container, _ = make_container(raw, gridsize=1, n_groups=None, neighbor_count=4, seed=0,
                                  nphotons=RECIPE_SIMULATION.nphotons)
    truth = container.Y[..., :1]
    rng = np.random.default_rng(0)
    cases = {
        "ground-truth patches": truth,
        "flat object (network ignores its input)": np.full_like(truth, np.sqrt(np.mean(np.abs(truth) ** 2))),
        "ground-truth patches at shuffled positions": truth[rng.permutation(len(truth))],
    }
    out = {}
    for name, patches in cases.items():
        metrics, _ = evaluate_patches(patches, container, raw.objectGuess)
        out[name] = [float(v) for v in metrics["ssim"]]
    return out


def nll_landmarks(nphotons: float, cfg_probe_scale: float, consistency: dict[str, float]) -> dict[str, float]:
    """Poisson-NLL landmarks; also fills ``consistency`` (forward-model checks of the data)."""
    raw = simulate_raw(RECIPE_SIMULATION, 0)
    container, _ = make_container(raw, gridsize=1, n_groups=None, neighbor_count=4, seed=0, nphotons=nphotons)
    n = container.X.shape[1]
    s = intensity_scale(nphotons, n)
    counts = (s * container.X[..., 0].astype(np.float64)) ** 2
    truth = container.Y[..., 0]
    probe = normalise_probe(np.asarray(container.probe).reshape(n, n), cfg_probe_scale)
    flat = np.full_like(truth, np.sqrt(np.mean(np.abs(truth) ** 2)))
    oracle = far_field_amplitude(probe, truth)
    x = container.X[..., 0].astype(np.float64)
    consistency["object gauge sqrt(mean ΣX² / mean Σ|F(P·Y)|²)"] = float(
        np.sqrt(np.mean(np.sum(x**2, axis=(1, 2))) / np.mean(np.sum(oracle**2, axis=(1, 2)))))
    consistency["correlation of X with the forward model of the true patches"] = float(
        np.corrcoef(x.ravel(), oracle.ravel())[0, 1])
    return {
        "oracle (true object, noise-free forward model)": nll_at_best_gain(far_field_amplitude(probe, truth), counts),
        "mean pattern for every position": poisson_nll(np.broadcast_to(counts.mean(axis=0), counts.shape), counts),
        "flat object": nll_at_best_gain(far_field_amplitude(probe, flat), counts),
        "saturated (λ = y)": poisson_nll(counts, counts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    cfg = load_recipe(RECIPE_PATH)
    ssim = ssim_baselines()
    consistency: dict[str, float] = {}
    nll = nll_landmarks(cfg.nphotons, cfg.model.probe_scale, consistency)
    result = {"date": _dt.date.today().isoformat(), "held_out_ssim": ssim, "training_nll": nll,
              "forward_model_consistency": consistency}
    lines = [
        "Command: `.venv/bin/python benchmarks/bench_quality_baselines.py` "
        f"({result['date']}; NumPy only). Data: the recipe's simulated sample "
        f"({RECIPE_SIMULATION.object_size} px objects, {RECIPE_SIMULATION.n_positions} positions, "
        f"{RECIPE_SIMULATION.nphotons:g} photons/pattern), gridsize 1, stitch crop 20.",
        "",
        "| held-out patches fed to the stitch-and-score path | SSIM amplitude | SSIM phase |",
        "|---|---:|---:|",
        *(f"| {k} | {v[0]:.3f} | {v[1]:.3f} |" for k, v in ssim.items()),
        "",
        f"| training-set Poisson NLL (nphotons {cfg.nphotons:g}) | value |",
        "|---|---:|",
        *(f"| {k} | {v:.2f} |" for k, v in nll.items()),
        "",
        "| forward-model check of the training data | value |",
        "|---|---:|",
        *(f"| {k} | {v:.4f} |" for k, v in consistency.items()),
        "",
        "A model whose training loss sits near the mean-pattern value has learned (almost) nothing "
        "position-specific; the oracle value is the floor.",
    ]
    body = "\n".join(lines) + "\n"
    print(body)
    publish("quality_baselines.json", result, HEADING, None if args.no_doc else body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
