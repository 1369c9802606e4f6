"""Ptychodus integration, end to end: is the reconstruction recognisably the ground truth?

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_ptychodus_quality.py [--backend tensorflow] [--epochs 10]
        [--positions 1024] [--object-size 256] [--out benchmarks/results/ptychodus_quality.json]

Everything goes through Ptychodus 1.7's objects and OUR reconstructor library exactly as
the Ptychodus GUI drives it: two simulated scans (different objects, physics §13) are
turned into ``ReconstructInput`` objects the way Ptychodus builds them (raw integer
counts, a bad-pixel mask with corrupted pixels, positions in metres in an off-centre
object frame, a two-mode probe), exported with ``export_training_data``, trained with
``train`` (spawned child), and the held-out scan is reconstructed with ``reconstruct``.
The output product's object is scored against the held-out ground truth with
``ptychopinn_plugin.evaluation.eval_reconstruction``; the canvas position is recovered
from the product's centre (data §6.2), so a misplaced canvas would show up as a large
registration shift.  A flat object on the same canvas is scored as the no-information
baseline.

Writes ``--out`` (JSON) and a PNG next to it (ground truth / reconstruction, amplitude
and phase).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PIXEL_M = 20e-9
CENTER_M = (3.0e-6, -1.5e-6)
BAD_PIXELS = ((5, 7), (40, 12), (33, 50), (60, 3))


def ptychodus_input(sim, name: str):
    """A ``ReconstructInput`` as Ptychodus's processing API builds it from a loaded dataset."""
    from ptychodus.api.geometry import PixelGeometry
    from ptychodus.api.object import Object, ObjectCenter
    from ptychodus.api.probe import ProbeSequence
    from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
    from ptychodus.api.product import Product, ProductMetadata
    from ptychodus.api.reconstruct import ReconstructInput

    counts = np.rint(sim.diffraction.astype(np.float64) ** 2).astype(np.int32)
    n = counts.shape[-1]
    mask = np.zeros((n, n), dtype=bool)
    for row, col in BAD_PIXELS:
        mask[row, col] = True
    counts[:, mask] = 60000
    height, width = sim.objectGuess.shape
    x_m = CENTER_M[0] + PIXEL_M * (sim.xcoords - (width - 1) / 2)
    y_m = CENTER_M[1] + PIXEL_M * (sim.ycoords - (height - 1) / 2)
    positions = ProbePositionSequence([ProbePosition(i, float(x), float(y)) for i, (x, y) in enumerate(zip(x_m, y_m))])
    probes = ProbeSequence(np.stack([sim.probeGuess, 0.2 * np.roll(sim.probeGuess, 3, axis=1)]).astype(np.complex64),
                           None, PixelGeometry(PIXEL_M, PIXEL_M))
    initial = np.ones_like(sim.objectGuess)  # Ptychodus's initial object guess (not the ground truth)
    obj = Object(initial, PixelGeometry(PIXEL_M, PIXEL_M), ObjectCenter(*CENTER_M))
    metadata = ProductMetadata(name=name, comments="", detector_distance_m=2.0, photon_energy_eV=8000.0,
                               probe_photon_count=float(np.mean(counts.sum(axis=(1, 2)))), exposure_time_s=0.1,
                               mass_attenuation_m2_per_kg=0.0, tomography_angle_deg=0.0)
    return ReconstructInput(counts, mask, Product(metadata, positions, probes, obj, []))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "pytorch"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--positions", type=int, default=1024)
    parser.add_argument("--object-size", type=int, default=256)
    parser.add_argument("--gridsize", type=int, default=1)
    parser.add_argument("--n-filters-scale", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ptychodus_quality.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("matplotlib", "h5py", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from ptychodus.api.settings import SettingsRegistry

    from ptychopinn_plugin.evaluation import eval_reconstruction
    from ptychopinn_plugin.ptychodus import PtychoPINNLibrary
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset

    sim_cfg = SimulationConfig(N=64, object_size=args.object_size, n_positions=args.positions, seed=args.seed,
                               nphotons=1e6)
    train_sim, test_sim = simulate_dataset(sim_cfg, stream=0), simulate_dataset(sim_cfg, stream=1)
    train_input, test_input = ptychodus_input(train_sim, "train"), ptychodus_input(test_sim, "test")

    library = PtychoPINNLibrary(SettingsRegistry())
    settings = library.settings
    settings.training.backend.set_value(args.backend)
    settings.model.gridsize.set_value(args.gridsize)
    settings.model.n_filters_scale.set_value(args.n_filters_scale)
    settings.training.nepochs.set_value(args.epochs)
    settings.training.n_groups.set_value(args.positions)
    settings.training.seed.set_value(args.seed)
    settings.execution.logger_backend.set_value("none")
    reconstructor = library.reconstructor("PINN")

    with tempfile.TemporaryDirectory(prefix="ptychodus_quality_") as tmp:
        work = Path(tmp)
        reconstructor.export_training_data(work / "train_data.npz", train_input)
        reconstructor.export_training_data(work / "test_data.npz", test_input)
        start = time.monotonic()
        epochs = []
        for output in reconstructor.train(work, work):
            loss = output.training_loss[-1].value if output.training_loss else float("nan")
            epochs.append({"progress": output.progress, "seconds": round(time.monotonic() - start, 1), "loss": loss})
            logging.info("epoch %d/%d at %.0f s: loss %.6g", output.progress, args.epochs, time.monotonic() - start,
                         loss)
        train_seconds = time.monotonic() - start
        start = time.monotonic()
        [result] = list(reconstructor.reconstruct(test_input))
        reconstruct_seconds = time.monotonic() - start

    obj = result.product.object_
    canvas = obj.get_array()[0]
    height, width = test_sim.objectGuess.shape
    center = obj.get_center()
    com = ((center.x_m - CENTER_M[0]) / PIXEL_M + width / 2, (center.y_m - CENTER_M[1]) / PIXEL_M + height / 2)
    metrics = eval_reconstruction(canvas, test_sim.objectGuess, canvas_com=com)
    flat = np.where(np.abs(canvas) > 0, 1.0 + 0j, 0j).astype(np.complex64)
    baseline = eval_reconstruction(flat, test_sim.objectGuess, canvas_com=com)
    report = {
        "backend": args.backend, "epochs": args.epochs, "positions": args.positions, "object_size": args.object_size,
        "gridsize": args.gridsize, "n_filters_scale": args.n_filters_scale, "train_seconds": round(train_seconds, 1),
        "reconstruct_seconds": round(reconstruct_seconds, 1), "canvas": list(canvas.shape),
        "canvas_com_px": [round(v, 3) for v in com], "true_scan_centroid_px": [float(test_sim.xcoords.mean()),
                                                                               float(test_sim.ycoords.mean())],
        "ssim_amplitude": float(metrics["ssim"][0]), "ssim_phase": float(metrics["ssim"][1]),
        "psnr_phase": float(metrics["psnr"][1]), "frc50_phase": metrics["frc50"][1],
        "registration_shift_px": [float(v) for v in metrics["registration_shift"]],
        "baseline_flat_ssim_amplitude": float(baseline["ssim"][0]),
        "baseline_flat_ssim_phase": float(baseline["ssim"][1]), "epoch_log": epochs,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from ptychopinn_plugin.util.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    _save_png(args.out.with_suffix(".png"), canvas, test_sim.objectGuess, com, report)
    from ptychopinn_plugin.util.atomic import atomic_savez

    atomic_savez(args.out.with_suffix(".npz"), canvas=canvas, canvas_com_px=np.asarray(com))
    print(json.dumps({k: v for k, v in report.items() if k != "epoch_log"}, indent=2))
    return 0


def _save_png(path: Path, canvas: np.ndarray, truth: np.ndarray, com, report: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = canvas.shape[0]
    x0, y0 = int(round(com[0] - p / 2)), int(round(com[1] - p / 2))
    window = truth[max(y0, 0):y0 + p, max(x0, 0):x0 + p]
    covered = np.abs(canvas) > 0
    recon_phase = np.where(covered, np.angle(canvas), np.nan)
    fig, axes = plt.subplots(2, 2, figsize=(8, 8))
    panels = [(np.abs(window), "ground truth |O|"), (np.angle(window), "ground truth phase"),
              (np.where(covered, np.abs(canvas), np.nan), "PtychoPINN |O| (via Ptychodus)"),
              (recon_phase - np.nanmean(recon_phase) + np.mean(np.angle(window)), "PtychoPINN phase")]
    for ax, (image, title) in zip(axes.ravel(), panels):
        ax.imshow(image, cmap="gray" if "|O|" in title else "twilight")
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(f"held-out object, {report['backend']}, {report['epochs']} epochs: SSIM amp "
                 f"{report['ssim_amplitude']:.3f} (flat {report['baseline_flat_ssim_amplitude']:.3f}), phase "
                 f"{report['ssim_phase']:.3f} (flat {report['baseline_flat_ssim_phase']:.3f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
