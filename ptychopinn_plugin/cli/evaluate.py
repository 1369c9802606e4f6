"""``ptychopinn-evaluate``: physics §11 metrics of a reconstruction against the ground truth.

Data-only mode (available now)::

    ptychopinn-evaluate --reconstruction RECON.npz --ground-truth DATA.npz \\
        [--output-dir D] [--phase-align plane|mean] [--register/--no-register]

scores ``RECON.npz`` (``object`` complex, or ``amplitude`` + ``phase``; optional
``canvas_com``/``com``) against ``DATA.npz``'s ``objectGuess`` and writes
``metrics.json`` and ``metrics.csv`` atomically.  ``--test-data`` may stand in for
``--ground-truth``.

Model mode (``--model-dir`` + ``--test-data``, api spec §9) predicts and stitches the test
data with a trained model first (the archive's backend, one group per scan position,
``--stitch_crop_size``), then scores the result against the test data's ``objectGuess``
(or ``--ground-truth``); it also writes ``comparison.png`` and ``reconstruction.npz``.

Exit codes (api spec §9): 0 success, 2 usage error, 1 runtime error (message on stderr;
traceback only with ``--log-level DEBUG``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

logger = logging.getLogger(__name__)
PROG = "ptychopinn-evaluate"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_OUTPUT_DIR = "evaluation_outputs"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Score a reconstruction against the ground truth (physics spec §11 metrics).",
    )
    parser.add_argument("--reconstruction", help="reconstruction NPZ (key 'object', optional 'canvas_com')")
    parser.add_argument("--ground-truth", help="dataset NPZ whose 'objectGuess' is the ground truth")
    parser.add_argument("--model-dir", help="trained model directory/archive (model mode)")
    parser.add_argument("--test-data", help="test dataset NPZ (model mode; in data-only mode, the ground truth)")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help="where metrics.json/.csv go (default %(default)s)")
    parser.add_argument("--stitch_crop_size", type=int, default=20, help="stitch crop size M (model mode)")
    parser.add_argument("--phase-align", choices=("plane", "mean"), default="plane")
    parser.add_argument("--register", action=argparse.BooleanOptionalAction, default=True,
                        help="refine registration by sub-pixel phase correlation (default on)")
    parser.add_argument("--eval-border", type=int, default=2, help="pixels trimmed on every side (default 2)")
    parser.add_argument("--frc-sigma", type=float, default=0.0, help="Gaussian smoothing of the FRC curve")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    parser.add_argument("--quiet", action="store_true", help="only log errors and print nothing on success")
    return parser


def _configure_logging(level: str, quiet: bool) -> None:
    logging.basicConfig(level=logging.ERROR if quiet else getattr(logging, level),
                        format="%(levelname)s %(name)s: %(message)s", force=True)


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    try:
        parser.error(message)
    except SystemExit as exc:
        return int(exc.code or 2)
    return 2  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    _configure_logging(args.log_level, args.quiet)

    if args.model_dir is None:
        if args.reconstruction is None:
            return _usage_error(parser, "give --reconstruction RECON.npz (data-only mode) or --model-dir (model mode)")
        if args.ground_truth is None and args.test_data is None:
            return _usage_error(parser, "data-only mode needs --ground-truth DATA.npz (or --test-data DATA.npz)")
    elif args.reconstruction is not None:
        return _usage_error(parser, "--reconstruction and --model-dir are alternative modes; give one")
    if args.eval_border < 0:
        return _usage_error(parser, f"--eval-border must be >= 0; got {args.eval_border}")
    if args.frc_sigma < 0:
        return _usage_error(parser, f"--frc-sigma must be >= 0; got {args.frc_sigma}")

    try:
        from ptychopinn_plugin.cli._common import check_output_dir

        check_output_dir(args.output_dir, "--output-dir")
        if args.model_dir is not None:
            metrics = _evaluate_model(args)
        else:
            metrics = _evaluate_data(args)
        if not args.quiet:
            _print_summary(metrics, Path(args.output_dir))
    except Exception as exc:  # runtime error → exit 1
        if args.log_level == "DEBUG":
            logger.exception("evaluation failed")
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _evaluate_data(args: argparse.Namespace) -> dict[str, Any]:
    from ptychopinn_plugin._version import __version__
    from ptychopinn_plugin.evaluation.inputs import load_ground_truth_npz, load_reconstruction_npz
    from ptychopinn_plugin.evaluation.metrics import eval_reconstruction
    from ptychopinn_plugin.evaluation.report import write_metrics

    truth_path = args.ground_truth if args.ground_truth is not None else args.test_data
    obj, com = load_reconstruction_npz(args.reconstruction)
    truth = load_ground_truth_npz(truth_path)
    if com is None:
        logger.warning(
            "%s carries no canvas centre of mass ('canvas_com'/'com'); centre-cropping to a common shape",
            args.reconstruction,
        )
    metrics = eval_reconstruction(
        obj, truth, canvas_com=com, register=args.register, phase_align_method=args.phase_align,
        eval_border=args.eval_border, frc_sigma=args.frc_sigma,
    )
    info = {
        "tool": PROG,
        "version": __version__,
        "reconstruction": str(args.reconstruction),
        "ground_truth": str(truth_path),
        "canvas_com": None if com is None else list(com),
        "phase_align_method": args.phase_align,
        "register": bool(args.register),
        "eval_border": args.eval_border,
        "frc_sigma": args.frc_sigma,
    }
    write_metrics(metrics, args.output_dir, info=info)
    return metrics


def _evaluate_model(args: argparse.Namespace) -> dict[str, Any]:
    """Model mode: predict + stitch the test data with a trained model, then score it.

    The archive's backend is used (imported now); the data are grouped one group per
    scan position with the model's ``N``/``gridsize`` and stitched with
    ``--stitch_crop_size``.  Writes ``metrics.json``/``metrics.csv``, ``comparison.png``
    and the stitched ``reconstruction.npz`` (with its canvas geometry).
    """
    from pathlib import Path as _Path

    from ptychopinn_plugin._version import __version__
    from ptychopinn_plugin.workflows.comparison import write_comparison
    from ptychopinn_plugin.config import InferenceConfig, resolve_model_archive
    from ptychopinn_plugin.evaluation.inputs import load_ground_truth_npz
    from ptychopinn_plugin.workflows.data_prep import load_data
    from ptychopinn_plugin.workflows.inference import load_predictor, reconstruct
    from ptychopinn_plugin.workflows.outputs import save_reconstruction

    if args.test_data is None:
        raise ValueError("model mode needs --test-data DATA.npz (the dataset to reconstruct and its objectGuess)")
    try:
        archive = resolve_model_archive(_Path(args.model_dir))
    except ValueError as exc:
        raise ValueError(f"{exc}; train a model first (ptychopinn-train), or score an existing reconstruction "
                         "with --reconstruction RECON.npz --ground-truth DATA.npz") from None
    truth_path = args.ground_truth if args.ground_truth is not None else args.test_data
    truth = load_ground_truth_npz(truth_path)
    predictor, loaded = load_predictor(archive)
    config = InferenceConfig(model=loaded.model_config, model_path=archive, test_data_file=args.test_data,
                             stitch_crop_size=args.stitch_crop_size, output_dir=args.output_dir,
                             backend=loaded.backend)
    data = load_data(args.test_data)
    container, outcome = reconstruct(predictor, data, config)
    output_dir = _Path(args.output_dir)
    save_reconstruction(outcome.amplitude, outcome.phase, output_dir, canvas_com=outcome.geometry.com_xy)
    info = {
        "tool": PROG, "version": __version__, "model": str(archive), "test_data": str(args.test_data),
        "ground_truth": str(truth_path), "backend": loaded.backend, "groups": len(container),
        "stitch_crop_size": args.stitch_crop_size, "phase_align_method": args.phase_align,
        "register": bool(args.register), "eval_border": args.eval_border, "frc_sigma": args.frc_sigma,
    }
    return write_comparison(outcome, truth, output_dir, info, register=args.register,
                            phase_align_method=args.phase_align, eval_border=args.eval_border,
                            frc_sigma=args.frc_sigma)


def _print_summary(metrics: dict[str, Any], output_dir: Path) -> None:
    rows = ("mae", "mse", "psnr", "psnr_legacy", "ssim", "ms_ssim", "frc50", "frc1over7")
    print(f"{'metric':<12} {'amplitude':>12} {'phase':>12}")
    for name in rows:
        amp, phase = metrics[name]
        print(f"{name:<12} {amp:>12.5g} {phase:>12.5g}")
    shift = metrics.get("registration_shift")
    if shift is not None:
        print(f"registration shift (dy, dx) = ({shift[0]:.3f}, {shift[1]:.3f}) px")
    print(f"wrote {output_dir / 'metrics.json'} and {output_dir / 'metrics.csv'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
