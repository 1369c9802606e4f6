"""``ptychopinn-convert``: move data between Ptychodus product files and canonical NPZ datasets.

Subcommands::

    product-to-npz --product IN.h5 [--diffraction FILE [--dataset PATH]]
                   [--diffraction-domain auto|intensity|amplitude] [--pairing auto|index|order]
                   --output OUT.npz
    npz-to-product --npz IN.npz [--reconstruction RECON.npz] [--pixel-size-m W [H]]
                   [--center-x-m X] [--center-y-m Y] [--name NAME] [--include-raw-data] --output OUT.h5
    reconstruction-to-product --product IN.h5 --reconstruction RECON.npz [--note TEXT]
                   --output OUT.h5

``--diffraction`` omitted → the product's own ``/raw_data`` group.  A reconstruction NPZ
holds ``object`` (or ``amplitude`` + ``phase``) and ``canvas_com`` (x, y) — the canvas
centre of mass needed to place it (data spec §6.2).

Exit codes (api spec §9): 0 success, 2 usage error, 1 runtime error (message on stderr;
traceback only with ``--log-level DEBUG``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ptychopinn_plugin.cli._common import add_logging_options, configure_logging, parse_or_exit_code, run_guarded

PROG = "ptychopinn-convert"
DOMAINS = ("auto", "intensity", "amplitude")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Convert between Ptychodus product HDF5 files and canonical NPZ datasets."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    to_npz = sub.add_parser("product-to-npz", help="product (+ diffraction patterns) → canonical NPZ dataset")
    to_npz.add_argument("--product", required=True, help="input product file (.h5)")
    to_npz.add_argument("--diffraction", help="patterns: .npz (diffraction/diff3d), .npy or HDF5; "
                        "default: the product's /raw_data group")
    to_npz.add_argument("--dataset", help="HDF5 dataset path or NPZ key of the patterns (HDF5 default: first of "
                        "/diffraction, /raw_data/diffraction, /entry/data/data)")
    to_npz.add_argument("--diffraction-domain", choices=DOMAINS, default="auto",
                        help="what the patterns hold (default auto: integer = counts, float = amplitude, "
                             "unless the file's metadata says)")
    to_npz.add_argument("--pairing", choices=("auto", "index", "order"), default="auto",
                        help="pattern for each position: by probe_position_indexes, by order, or auto")
    to_npz.add_argument("--output", required=True, help="output NPZ")

    to_h5 = sub.add_parser("npz-to-product", help="canonical NPZ (+ reconstruction) → product file")
    to_h5.add_argument("--npz", required=True, help="input canonical NPZ dataset")
    to_h5.add_argument("--reconstruction", help="reconstruction NPZ (object + canvas_com); default: objectGuess")
    to_h5.add_argument("--pixel-size-m", type=_positive_float, nargs="+", metavar="SIZE",
                       help="object pixel width [height] in metres (default: from the NPZ metadata, else 1)")
    to_h5.add_argument("--center-x-m", type=_finite_float, metavar="X",
                       help="object-frame centre x in metres (default: from the NPZ metadata, else 0); write "
                            "negative values as --center-x-m=-1e-6")
    to_h5.add_argument("--center-y-m", type=_finite_float, metavar="Y",
                       help="object-frame centre y in metres (default: from the NPZ metadata, else 0); giving only one of "
                            "--center-x-m/--center-y-m sets the other to 0")
    to_h5.add_argument("--name", help="product name (default: recorded name, else the NPZ file stem)")
    to_h5.add_argument("--note", help="one-line note appended to the comments")
    to_h5.add_argument("--include-raw-data", action="store_true", help="embed the patterns as /raw_data")
    to_h5.add_argument("--output", required=True, help="output product file (.h5)")

    rec = sub.add_parser("reconstruction-to-product",
                         help="place a stitched reconstruction into a copy of an input product (data §6.2)")
    rec.add_argument("--product", required=True, help="input product giving geometry, positions, probe, metadata")
    rec.add_argument("--reconstruction", required=True, help="reconstruction NPZ (object + canvas_com)")
    rec.add_argument("--note", help="one-line provenance note appended to the comments")
    rec.add_argument("--output", required=True, help="output product file (.h5)")

    for child in (to_npz, to_h5, rec):
        add_logging_options(child)
    return parser


def _load_reconstruction(path: str) -> tuple:
    from ptychopinn_plugin.evaluation.inputs import load_reconstruction_npz

    image, com = load_reconstruction_npz(path)
    if com is None:
        raise ValueError(
            f"reconstruction {path} has no canvas centre of mass ('canvas_com' or 'com', x then y); "
            "it is needed to place the canvas in the object frame (data spec §6.2)"
        )
    return image, com


def _product_to_npz(args: argparse.Namespace) -> str:
    from ptychopinn_plugin.io.product_convert import product_and_diffraction_to_npz

    raw = product_and_diffraction_to_npz(
        args.product, args.diffraction, args.output, diffraction_domain=args.diffraction_domain,
        dataset=args.dataset, pairing=args.pairing,
    )
    return f"wrote {args.output}: {raw!r}"


def _npz_to_product(args: argparse.Namespace) -> str:
    from ptychopinn_plugin.io.product_convert import npz_to_product
    from ptychopinn_plugin.io.product_h5 import write_product

    stitched = _load_reconstruction(args.reconstruction) if args.reconstruction else None
    center = None
    if args.center_x_m is not None or args.center_y_m is not None:
        center = (args.center_x_m or 0.0, args.center_y_m or 0.0)
    product = npz_to_product(
        args.npz, stitched, pixel_size_m=args.pixel_size_m, center_m=center, name=args.name,
        comments_note=args.note, include_raw_data=args.include_raw_data,
    )
    write_product(args.output, product)
    return f"wrote {args.output}: {product!r}"


def _reconstruction_to_product(args: argparse.Namespace) -> str:
    from ptychopinn_plugin.io.product_convert import reconstruction_to_product
    from ptychopinn_plugin.io.product_h5 import read_product, write_product

    product = reconstruction_to_product(
        read_product(args.product), _load_reconstruction(args.reconstruction), comments_note=args.note
    )
    write_product(args.output, product)
    return f"wrote {args.output}: {product!r}"


_COMMANDS = {
    "product-to-npz": _product_to_npz,
    "npz-to-product": _npz_to_product,
    "reconstruction-to-product": _reconstruction_to_product,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_or_exit_code(parser, argv)
    if isinstance(args, int):
        return args
    if getattr(args, "pixel_size_m", None) is not None and len(args.pixel_size_m) > 2:
        try:
            parser.error("--pixel-size-m takes one value (square pixels) or two (width height)")
        except SystemExit as exc:
            return int(exc.code or 2)
    configure_logging(args.log_level, args.quiet)

    def body() -> int:
        message = _COMMANDS[args.command](args)
        if not args.quiet:
            print(message)
        return 0

    return run_guarded(PROG, args.log_level, body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
