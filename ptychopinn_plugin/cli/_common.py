"""Shared command-line plumbing: logging set-up and the exit-code convention (api spec §9).

0 success, 2 usage error (argparse), 1 runtime error with the message on stderr (the
traceback only with ``--log-level DEBUG``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="INFO", help="logging verbosity")
    parser.add_argument("--quiet", action="store_true", help="only log errors")


def configure_logging(level: str, quiet: bool) -> None:
    logging.basicConfig(
        level=logging.ERROR if quiet else getattr(logging, level),
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )


def parse_or_exit_code(parser: argparse.ArgumentParser, argv) -> argparse.Namespace | int:
    """Parse ``argv``; return argparse's exit code instead of raising SystemExit."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def run_guarded(prog: str, log_level: str, body: Callable[[], int]) -> int:
    """Run ``body``; any exception becomes exit code 1 with a one-line message on stderr."""
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI boundary reports every runtime error
        if log_level == "DEBUG":
            logging.getLogger(prog).exception("%s failed", prog)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
