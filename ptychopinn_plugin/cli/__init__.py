"""Command-line entry points (``ptychopinn-*``); each module exposes ``main(argv=None) -> int``.

Exit codes (api spec §9): 0 success, 2 usage error (argparse), 1 runtime error (message on
stderr; traceback only with ``--log-level DEBUG``).
"""
