"""Shared command-line plumbing: logging set-up and the exit-code convention (api spec §9).

0 success, 2 usage error (argparse), 1 runtime error with the message on stderr (the
traceback only with ``--log-level DEBUG``), 130 stopped by Ctrl-C (``ptychopinn-train``
still saves the model, marked incomplete).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

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


class UsageError(Exception):
    """A missing/contradictory option detected after parsing (exit code 2, like argparse)."""


def run_cli(prog: str, parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
            action: Callable[[argparse.Namespace], int]) -> int:
    """The shared ``main`` of the CLIs: parse, configure logging, run ``action(args)``.

    A :class:`UsageError` prints the usage and exits 2 (argparse's convention); any other
    exception goes through :func:`run_guarded` (exit 1, or 130 on Ctrl-C).
    """
    args = parse_or_exit_code(parser, argv)
    if isinstance(args, int):
        return args
    configure_logging(args.log_level, args.quiet)

    def body() -> int:
        try:
            return action(args)
        except UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2

    return run_guarded(prog, args.log_level, body)


EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT), the shell's convention: the run did not finish as asked."""


def check_output_dir(path: "str | os.PathLike[str]", option: str = "--output_dir") -> Path:
    """Fail before any work when ``path`` cannot become the output directory.

    It must be an existing writable directory, or not exist yet under an existing writable
    directory (it is created only when outputs are written, so a failed run leaves
    nothing behind).  The error names the option and the path (issue #15 item 2: a whole
    training used to run before an output path that was a file failed with Errno 17).
    """
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise NotADirectoryError(f"{option} {target} exists and is not a directory; expected a directory to "
                                     "write the outputs into (or a path that does not exist yet)")
        if not os.access(target, os.W_OK | os.X_OK):
            raise PermissionError(f"{option} {target}: the directory is not writable")
        return target
    ancestor = target.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"{option} {target} cannot be created: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{option} {target} cannot be created: {ancestor} is not writable")
    return target


class InterruptStop:
    """First Ctrl-C: ask the running job to stop and keep what it has (the job polls
    :meth:`requested`); a second Ctrl-C interrupts at once.  Only installed on the main
    thread (signals cannot be caught elsewhere)."""

    def __init__(self, prog: str, action: str) -> None:
        self._prog = prog
        self._action = action
        self._flag = False
        self._previous: Any = None
        self._installed = False

    def requested(self) -> bool:
        return self._flag

    def _handle(self, signum: int, frame: Any) -> None:
        if self._flag:
            raise KeyboardInterrupt
        self._flag = True
        print(f"{self._prog}: {self._action} (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    def __enter__(self) -> "InterruptStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            # None means the previous handler was not installed from Python (C code); the
            # closest restorable behaviour is Python's own KeyboardInterrupt handler.  Leaving
            # ours in place would swallow every later Ctrl-C of the process.
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False
