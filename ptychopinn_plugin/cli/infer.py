"""``ptychopinn-infer`` (alias ``ptycho_inference``): reconstruct a dataset with a trained model (api §9).

::

    ptychopinn-infer --model_path DIR|ZIP --test_data DATA.npz [--output_dir D]
        [--n_groups K] [--n_subsample S --subsample_seed R] [--neighbor_count K]
        [--stitch_crop_size M] [--backend tensorflow|pytorch] [--diffraction_domain D]
        [--torch-accelerator A] [--torch-num-workers W] [--torch-inference-batch-size B] [--torch-precision P]
        [--refine-iterations K [--refine-step-size F]] [--skip-misfit]
        [--write-product OUT.h5 --product IN.h5]
        [--comparison_plot] [--debug] [--config YAML] [--log-level L] [--quiet]

The model's ``N`` and ``gridsize`` come from the archive; the data are grouped one group
per scan position unless ``--n_groups`` is given; predictions are streamed into the
stitcher batch by batch.  Outputs in ``output_dir``: ``reconstructed_amplitude.png``,
``reconstructed_phase.png``, ``reconstruction.npz`` (with the canvas geometry); with
``--comparison_plot`` and an ``objectGuess`` in the data also ``comparison.png``,
``metrics.json`` and ``metrics.csv``.

Every reconstruction is checked against the measured patterns (docs/consistency.md): the
misfit per scan position goes into ``reconstruction.npz`` (``misfit_*``), the summary into
``consistency.json`` and onto stdout (``--skip-misfit`` leaves it out).  With
``--refine-iterations K`` the stitched object is then refined through the physics (K
steps on the object, probe and positions fixed; PyTorch); the first Ctrl-C stops and
keeps the object reached.

``--write-product OUT.h5 --product IN.h5`` also writes a Ptychodus product (data spec §6):
a copy of ``IN.h5`` whose object is the stitched canvas of ``reconstruction.npz`` placed
per data §6.2, whose losses are the model's training loss history, and whose comments
get a provenance line.  The patterns still come from ``--test_data``: an NPZ whose scan
positions are the product's, in the product's object pixels (data §6.3) — what
``ptychopinn-convert product-to-npz --product IN.h5 [--diffraction FILE]`` writes.  A
dataset in another pixel frame is refused (exit 1): its canvas would be misplaced.
Exit codes: 0 success, 2 usage error, 1 runtime error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from ptychopinn_plugin.cli._common import UsageError, add_logging_options, check_output_dir, run_cli

logger = logging.getLogger(__name__)
PROG = "ptychopinn-infer"

DOMAINS = ("amplitude", "intensity", "auto")
DEBUG_JSON = "inference_debug.json"
CONSISTENCY_JSON = "consistency.json"
PRODUCT_TO_NPZ_HINT = "ptychopinn-convert product-to-npz --product IN.h5 [--diffraction FILE] --output DATA.npz"
POSITION_TOLERANCE_PX = 1e-2
"""Largest distance (object pixels) between a test-data scan position and the matching
product position; far below anything that matters for the §6.2 placement, far above the
round-off of a metres ↔ pixels round trip."""
# YAML keys (InferenceConfig field names) that the flags below may also take from --config.
YAML_KEYS = ("model_path", "test_data_file", "output_dir", "n_groups", "n_images", "n_subsample", "subsample_seed",
             "neighbor_count", "stitch_crop_size", "backend", "debug", "refine_iterations", "refine_step_size")


def build_parser() -> argparse.ArgumentParser:
    from ptychopinn_plugin.config.execution_config import ACCELERATORS
    from ptychopinn_plugin.config.refinement_config import DEFAULT_REFINE_STEP_SIZE

    parser = argparse.ArgumentParser(prog=PROG, allow_abbrev=False,
                                     description="Reconstruct a dataset with a trained PtychoPINN model.")
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="YAML with InferenceConfig fields (model_path, test_data_file, …); CLI values win")
    parser.add_argument("--model_path", default=None, help="model directory (holding wts.h5.zip) or archive file")
    parser.add_argument("--test_data", dest="test_data_file", default=None, metavar="NPZ", help="dataset to reconstruct")
    parser.add_argument("--output_dir", default=None, help="output directory (default inference_outputs)")
    parser.add_argument("--n_groups", "--n_images", dest="n_groups", type=int, default=None,
                        help="number of groups (default: one per scan position)")
    parser.add_argument("--n_subsample", type=int, default=None, help="keep this many random scan positions first")
    parser.add_argument("--subsample_seed", type=int, default=None, help="seed of the subsampling draw")
    parser.add_argument("--neighbor_count", type=int, default=None, help="K nearest neighbours for grouping (default 4)")
    parser.add_argument("--stitch_crop_size", type=int, default=None, help="central M×M used for stitching (default 20)")
    parser.add_argument("--backend", choices=("tensorflow", "pytorch"), default=None,
                        help="required backend (default: the archive's)")
    parser.add_argument("--diffraction_domain", choices=DOMAINS, default="amplitude")
    parser.add_argument("--torch-accelerator", choices=ACCELERATORS, default=None)
    parser.add_argument("--torch-num-workers", type=int, default=None)
    parser.add_argument("--torch-inference-batch-size", type=int, default=None)
    parser.add_argument("--torch-precision", choices=("auto", "32-true", "bf16-mixed"), default="auto",
                        help="PyTorch inference precision (default %(default)s: bf16 where the CPU/GPU computes it "
                             "natively; the physics stays float32)")
    parser.add_argument("--refine-iterations", "--refine_iterations", dest="refine_iterations", type=int,
                        default=None, metavar="K",
                        help="after the network, K iterations that optimise the stitched object through the "
                             "forward model and the (variance-stabilised) Poisson likelihood (probe and positions "
                             "fixed; needs PyTorch); 0 = off (default). Ctrl-C stops and keeps the object reached")
    parser.add_argument("--refine-step-size", "--refine_step_size", dest="refine_step_size", type=float,
                        default=None, metavar="F",
                        help="refinement step as a fraction of the full Fisher-scoring step, 0 < F <= 2 (default "
                             f"{DEFAULT_REFINE_STEP_SIZE})")
    parser.add_argument("--skip-misfit", action="store_true",
                        help="do not compute the per-position data-consistency map (saves its time on large scans)")
    parser.add_argument("--write-product", metavar="OUT.h5", default=None,
                        help="write a Ptychodus product (needs --product IN.h5)")
    parser.add_argument("--product", metavar="IN.h5", default=None, help="input product for geometry/metadata")
    parser.add_argument("--comparison_plot", action="store_true",
                        help="compare with the data's objectGuess: comparison.png + metrics.json/.csv")
    parser.add_argument("--debug", action="store_true", default=None, help=f"write {DEBUG_JSON} with diagnostics")
    add_logging_options(parser)
    return parser



def _values(args: argparse.Namespace) -> dict[str, Any]:
    from ptychopinn_plugin.config import load_yaml_config

    values: dict[str, Any] = {}
    if args.config:
        raw = load_yaml_config(args.config)
        unknown = sorted(set(raw) - set(YAML_KEYS) - {"model"})
        if unknown:
            raise ValueError(f"{args.config}: unknown inference option(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(YAML_KEYS)}")
        values.update({k: v for k, v in raw.items() if k in YAML_KEYS})
        if "n_images" in values:
            logger.warning("n_images is deprecated; use n_groups")
            values.setdefault("n_groups", values.pop("n_images"))
    for key in YAML_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    for key in ("model_path", "test_data_file"):
        if not values.get(key):
            flag = "--test_data" if key == "test_data_file" else "--model_path"
            hint = ""
            if key == "test_data_file" and args.product:
                hint = f"; --product gives geometry and metadata only, make the dataset with `{PRODUCT_TO_NPZ_HINT}`"
            raise UsageError(f"{flag} is required (on the command line or as {key!r} in the --config YAML){hint}")
    if args.skip_misfit and values.get("refine_iterations"):
        raise UsageError("--skip-misfit cannot be combined with --refine-iterations (refinement reports the misfit "
                         "before and after)")
    if args.write_product and not args.product:
        raise UsageError("--write-product requires --product IN.h5 (geometry and metadata of the input)")
    if args.product and not args.write_product:
        logger.warning("--product %s is only used with --write-product; ignored", args.product)
    return values


def _infer(args: argparse.Namespace) -> int:
    from ptychopinn_plugin._version import __version__
    from ptychopinn_plugin.config import InferenceConfig, resolve_model_archive
    from ptychopinn_plugin.config.inference_config import DEFAULT_INFERENCE_OUTPUT_DIR
    from ptychopinn_plugin.data.npz_io import check_exists
    from ptychopinn_plugin.util.atomic import atomic_write_text
    from ptychopinn_plugin.workflows.comparison import COMPARISON_PNG_NAME, write_comparison
    from ptychopinn_plugin.workflows.data_prep import load_data
    from ptychopinn_plugin.workflows.inference import load_predictor, reconstruct
    from ptychopinn_plugin.workflows.outputs import save_reconstruction

    values = _values(args)
    model_path = Path(values["model_path"])
    test_path = Path(values["test_data_file"])
    archive = resolve_model_archive(model_path)  # ValueError listing the paths tried
    check_exists(test_path)
    check_output_dir(values.get("output_dir") or DEFAULT_INFERENCE_OUTPUT_DIR)
    if args.write_product:
        check_output_dir(Path(args.write_product).parent, "--write-product (its directory)")
    # Read the input product before the (slow) inference so a bad file fails fast.
    input_product = _read_input_product(Path(args.product)) if args.write_product else None

    started = time.perf_counter()
    batch = args.torch_inference_batch_size
    predictor, loaded = load_predictor(archive, backend=values.get("backend"),
                                       **({"batch_size": batch} if batch else {}),
                                       device=args.torch_accelerator)
    if not batch and loaded.training_config is not None:
        # api spec §2.6: no inference batch size given → the model's training batch size.
        predictor.batch_size = int(loaded.training_config.batch_size)
    predictor.precision = args.torch_precision
    if loaded.backend == "tensorflow" and (args.torch_accelerator is not None or args.torch_num_workers is not None):
        logger.warning("--torch-accelerator/--torch-num-workers are ignored for a TensorFlow model")
        predictor.device = None
    if args.torch_num_workers:
        logger.info("--torch-num-workers has no effect on in-memory inference")
    config_values = {k: v for k, v in values.items() if k not in ("model_path", "test_data_file", "backend")}
    config = InferenceConfig(model=loaded.model_config, model_path=archive, test_data_file=test_path,
                             backend=loaded.backend, **config_values)
    data = load_data(test_path, config.n_subsample, config.subsample_seed, diffraction_domain=args.diffraction_domain)
    product_rows = None
    if input_product is not None:
        product_rows = _check_positions_match(data, test_path, input_product, Path(args.product))
    container, outcome = reconstruct(predictor, data, config)
    refined = None if args.skip_misfit else _check_and_refine(args, config, outcome, data, loaded)
    if refined is not None:
        outcome = refined.outcome
    output_dir = Path(config.output_dir)
    written = save_reconstruction(outcome.amplitude, outcome.phase, output_dir, canvas_com=outcome.geometry.com_xy,
                                  extra_arrays=_consistency_arrays(refined))
    info = {"tool": PROG, "version": __version__, "model": str(archive), "test_data": str(test_path),
            "backend": loaded.backend, "groups": len(container), "stitch_crop_size": config.stitch_crop_size}
    if refined is not None:
        info["data_consistency"] = refined.summary()
        atomic_write_text(output_dir / CONSISTENCY_JSON, json.dumps(
            {key: info[key] for key in ("tool", "version", "model", "test_data", "data_consistency")}, indent=2) + "\n")
        written["consistency"] = output_dir / CONSISTENCY_JSON
    if input_product is not None:
        written["product"] = _write_output_product(Path(args.write_product), input_product, written["reconstruction"],
                                                   outcome.geometry.com_xy, loaded, groups=len(container),
                                                   consistency=refined.final if refined is not None else None,
                                                   product_rows=product_rows)
    metrics = None
    if args.comparison_plot:
        if data.objectGuess is None:
            logger.warning("--comparison_plot: %s has no objectGuess; no comparison written", test_path)
        else:
            metrics = write_comparison(outcome, data.objectGuess, output_dir, info)
            written["comparison"] = output_dir / COMPARISON_PNG_NAME
            written["metrics"] = output_dir / "metrics.json"
    if config.debug:
        debug = {**info, "N": predictor.N, "gridsize": predictor.gridsize, "intensity_scale": predictor.intensity_scale,
                 "canvas_size": outcome.geometry.canvas_size, "canvas_com": list(outcome.geometry.com_xy),
                 "manifest_sha256": loaded.info.manifest_sha256 if loaded.info else None,
                 "seconds": time.perf_counter() - started}
        atomic_write_text(output_dir / DEBUG_JSON, json.dumps(debug, indent=2) + "\n")
        written["debug"] = output_dir / DEBUG_JSON
    if not args.quiet:
        print(f"reconstructed {len(container)} groups with the {loaded.backend} model {archive} "
              f"({outcome.geometry.canvas_size}×{outcome.geometry.canvas_size} px canvas)")
        if refined is not None:
            for line in _consistency_lines(refined):
                print(line)
        if metrics is not None:
            print(f"SSIM amplitude {metrics['ssim'][0]:.4f}, phase {metrics['ssim'][1]:.4f}")
        for path in sorted(written.values()):
            print(f"output: {path}")
    return 0


# ----------------------------------------------------------------------------- data consistency, refinement
def _check_and_refine(args: argparse.Namespace, inference: Any, outcome: Any, data: Any, loaded: Any) -> Any:
    """The misfit map of the stitched object and, with ``--refine-iterations``, the refinement."""
    from ptychopinn_plugin.cli._common import InterruptStop
    from ptychopinn_plugin.cli._progress import format_seconds
    from ptychopinn_plugin.config.inference_config import refinement_of
    from ptychopinn_plugin.workflows.consistency import ForwardSetup, refine_reconstruction, scan_patterns

    forward = ForwardSetup.of_archive(loaded)
    config = refinement_of(inference)
    stream = None if args.quiet else sys.stderr
    started = time.monotonic()
    every = max(1, config.iterations // 10)

    patterns = scan_patterns(data)
    if not config.enabled:
        return refine_reconstruction(outcome, patterns, forward, config)
    with InterruptStop(PROG, "stopping the refinement after this iteration, keeping the object reached") as stop:
        def progress(iteration: int, loss: float) -> bool:
            if stream is not None and (iteration % every == 0 or iteration == config.iterations):
                elapsed = time.monotonic() - started
                eta = elapsed / iteration * (config.iterations - iteration)
                print(f"refinement {iteration}/{config.iterations}  amplitude misfit {loss:.4g}  elapsed "
                      f"{format_seconds(elapsed)}  ETA {format_seconds(eta)}", file=stream, flush=True)
            return not stop.requested()

        return refine_reconstruction(outcome, patterns, forward, config, progress=progress)


def _consistency_arrays(refined: Any) -> dict[str, Any]:
    """``misfit_*`` of the saved object; with refinement also ``network_misfit_*`` and the losses."""
    if refined is None:
        return {}
    import numpy as np

    arrays = refined.misfit_arrays()
    if refined.after is not None:
        arrays["refine_losses"] = np.asarray(refined.losses, dtype=np.float64)
    return arrays


def _consistency_lines(refined: Any) -> list[str]:
    from ptychopinn_plugin.workflows.consistency import consistency_line as line

    if refined.after is None:
        return [line("network", refined.before.summary())]
    stopped = ", stopped early" if refined.stopped_early else ""
    return [line("network", refined.before.summary()),
            line(f"after {refined.iterations_done} refinement iterations, {refined.seconds:.1f} s{stopped}",
                 refined.after.summary())]


# ----------------------------------------------------------------------------- --write-product
def _read_input_product(path: Path) -> Any:
    """The ``--product`` file as a validated :class:`~ptychopinn_plugin.io.Product`.

    Every failure names the file and says what was expected (exit 1).
    """
    from ptychopinn_plugin.io.product_h5 import read_product

    try:
        return read_product(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"--product: {exc}; expected an existing Ptychodus product HDF5 file") from exc
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"--product {path}: {exc}; expected a Ptychodus product HDF5 file (data spec §6.1: "
                         "name, probe, object with centre and pixel size, probe positions)") from exc


def _check_positions_match(data: Any, data_path: Path, product: Any, product_path: Path) -> Any:
    """Refuse test data whose scan positions are not the product's (in its object pixels).

    The stitched canvas is placed with the centre of mass of the test data's positions
    (data §6.2), which is only meaningful in the product's pixel frame (data §6.3).  Every
    test-data position (a subsample is fine, in any order) must coincide with a product
    position to :data:`POSITION_TOLERANCE_PX`.  Returns, per test-data position, the row
    of the product position it coincides with.
    """
    import numpy as np
    from scipy.spatial import cKDTree

    from ptychopinn_plugin.io.product_geometry import positions_px

    x_px, y_px = positions_px(product)
    ours = np.column_stack([np.asarray(data.xcoords, dtype=np.float64), np.asarray(data.ycoords, dtype=np.float64)])
    distance, nearest = cKDTree(np.column_stack([x_px, y_px])).query(ours)
    worst = int(np.argmax(distance))
    if len(ours) > product.n_positions or distance[worst] > POSITION_TOLERANCE_PX:
        raise ValueError(
            f"test data {data_path} ({len(ours)} positions) does not match the scan of --product {product_path} "
            f"({product.n_positions} positions): position {worst} of the test data, (x, y) = "
            f"({ours[worst, 0]:.6g}, {ours[worst, 1]:.6g}) px, is {distance[worst]:.3g} px from the nearest product "
            f"position ({x_px[nearest[worst]]:.6g}, {y_px[nearest[worst]]:.6g}) px in the product's object frame "
            f"(data spec §6.3; tolerance {POSITION_TOLERANCE_PX} px). --test_data must hold the product's scan in "
            f"its object pixels; make it with `{PRODUCT_TO_NPZ_HINT}`"
        )
    return nearest


def _training_losses(history: Optional[dict[str, list[float]]]) -> Optional[list[float]]:
    """Training loss per epoch from an archive's history: ``train_loss`` (PyTorch) or ``loss`` (TF)."""
    for key in ("train_loss", "loss"):
        values = (history or {}).get(key)
        if values:
            return [float(v) for v in values]
    return None


def _product_consistency(consistency: Any, product: Any, rows: Any) -> dict[str, Any]:
    """The map per product position (NaN where the reconstruction did not use a position);
    ``rows``: the product row of each map row (:func:`_check_positions_match`)."""
    import numpy as np

    from ptychopinn_plugin.io.product_model import CONSISTENCY_ARRAYS

    values = {"r_factor": consistency.r_factor, "deviance": consistency.deviance,
              "deviance_expected": consistency.deviance_expected, "coverage": consistency.coverage}
    out: dict[str, Any] = {}
    for key in CONSISTENCY_ARRAYS:
        column = np.full(product.n_positions, np.nan)
        column[rows] = values[key]
        out[key] = column
    out["gain"] = consistency.gain
    return out


def _write_output_product(out_path: Path, input_product: Any, reconstruction_npz: Path, com_xy: Sequence[float],
                          loaded: Any, *, groups: int, consistency: Any = None, product_rows: Any = None) -> Path:
    """Write ``out_path``: ``input_product`` with the stitched object (data §6.2), losses, provenance.

    The object is read back from ``reconstruction.npz`` so the two outputs hold the very
    same array (and ``ptychopinn-convert reconstruction-to-product`` on that file gives the
    same product).
    """
    import numpy as np

    from ptychopinn_plugin.io.product_convert import provenance_note, reconstruction_to_product
    from ptychopinn_plugin.io.product_h5 import write_product

    with np.load(reconstruction_npz, allow_pickle=False) as npz:
        canvas = np.asarray(npz["object"])
    info = loaded.info
    sha = (info.archive_sha256 or info.manifest_sha256) if info is not None else None
    note = provenance_note(backend=loaded.backend, archive_sha256=sha, model_type=loaded.model_config.model_type,
                           groups=groups)
    losses = _training_losses(loaded.history)
    if losses is None:
        logger.warning("the model archive has no training loss history; %s gets empty loss datasets", out_path)
    per_position = (_product_consistency(consistency, input_product, product_rows) if consistency is not None
                    else None)
    product = reconstruction_to_product(input_product, (canvas, tuple(com_xy)), comments_note=note, losses=losses,
                                        data_consistency=per_position)
    return write_product(out_path, product)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(PROG, build_parser(), argv, _infer)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
