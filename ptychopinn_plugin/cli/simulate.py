"""``ptychopinn-simulate``: write ``train_data.npz`` and ``test_data.npz`` from two different
simulated objects (physics spec §13; files in the canonical schema of data spec §1).

Exit codes (api spec §9): 0 success, 2 usage error (including invalid parameter values),
1 runtime error (message on stderr; traceback only with ``--log-level DEBUG``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ptychopinn_plugin.simulation.config import ALLOWED_N, OBJECT_KINDS, PROBE_KINDS, SCAN_KINDS, SimulationConfig

logger = logging.getLogger(__name__)
PROG = "ptychopinn-simulate"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
GRID_DEFAULT_STEP = 4.0
"""Lattice step of ``--scan grid`` without ``--scan-step``: the authors' 4 px member spacing."""


def build_parser() -> argparse.ArgumentParser:
    defaults = SimulationConfig()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Simulate a ptychography training and test set (different objects, same probe).",
    )
    parser.add_argument("--output-dir", required=True, help="directory for train_data.npz and test_data.npz")
    parser.add_argument("--N", type=int, choices=ALLOWED_N, default=defaults.N, help="pattern side (default %(default)s)")
    scan = parser.add_mutually_exclusive_group()
    scan.add_argument("--n-positions", type=int, default=None,
                      help=f"scan positions per set (default {defaults.n_positions})")
    scan.add_argument("--scan-step", type=float, default=None, help="raster step in pixels instead of --n-positions")
    parser.add_argument("--object-size", type=int, default=defaults.object_size,
                        help="object side in pixels (default %(default)s)")
    parser.add_argument("--nphotons", type=float, default=defaults.nphotons,
                        help="mean photons per pattern (default %(default)g)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    parser.add_argument("--jitter", type=float, default=None,
                        help=f"uniform position jitter half-width in pixels (default {defaults.jitter} for "
                             "--scan raster, 0 for --scan grid)")
    parser.add_argument("--object", dest="object_kind", choices=OBJECT_KINDS, default=defaults.object_kind,
                        help="object family: feature-rich amplitude and phase, or the authors' blurred "
                             "amplitude-only 'lines' (default %(default)s)")
    parser.add_argument("--probe", dest="probe_kind", choices=PROBE_KINDS, default=defaults.probe_kind,
                        help="probe: defocused pupil or the idealised blurred disk (default %(default)s)")
    parser.add_argument("--scan", choices=SCAN_KINDS, default=defaults.scan,
                        help="jittered raster, or an exact lattice ('grid', step --scan-step, default 4 px) "
                             "(default %(default)s)")
    parser.add_argument("--margin", type=int, default=defaults.margin,
                        help="free border between scan region and object edge (default %(default)s)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO")
    parser.add_argument("--quiet", action="store_true", help="only log errors and print nothing on success")
    return parser


def _configure_logging(level: str, quiet: bool) -> None:
    logging.basicConfig(level=logging.ERROR if quiet else getattr(logging, level),
                        format="%(levelname)s %(name)s: %(message)s", force=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help
        return int(exc.code or 0)
    _configure_logging(args.log_level, args.quiet)

    if args.scan == "grid" and args.scan_step is None and args.n_positions is None:
        args.scan_step = GRID_DEFAULT_STEP
    if args.jitter is None:
        args.jitter = 0.0 if args.scan == "grid" else SimulationConfig().jitter
    if args.scan_step is not None:
        scan_kwargs = {"n_positions": None, "scan_step": args.scan_step}
    elif args.n_positions is not None:
        scan_kwargs = {"n_positions": args.n_positions}
    else:
        scan_kwargs = {}  # the config's default number of positions
    try:
        cfg = SimulationConfig(N=args.N, object_size=args.object_size, nphotons=args.nphotons, seed=args.seed,
                               jitter=args.jitter, margin=args.margin, object_kind=args.object_kind,
                               probe_kind=args.probe_kind, scan=args.scan, **scan_kwargs)
    except ValueError as exc:  # bad option values are usage errors
        try:
            parser.error(str(exc))
        except SystemExit as usage:
            return int(usage.code or 2)

    from ptychopinn_plugin.simulation.dataset import simulate_train_test

    try:
        train_path, test_path = simulate_train_test(cfg, args.output_dir)
    except Exception as exc:  # runtime error → exit 1
        if args.log_level == "DEBUG":
            logger.exception("simulation failed")
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"train: {train_path}")
        print(f"test:  {test_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
