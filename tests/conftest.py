"""Shared pytest setup: headless Qt/matplotlib, quiet TensorFlow, clean legacy params."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_legacy_params():
    """Each test starts from the import-time legacy dictionary (it is process-global)."""
    from ptychopinn_plugin.config import legacy_params

    legacy_params.reset()
    yield
    legacy_params.reset()


@pytest.fixture(autouse=True)
def _capture_logs_regardless_of_cli_tests(caplog):
    """CLI tests call ``logging.basicConfig(force=True)`` (e.g. ``--quiet`` → ERROR) in the
    same process; under pytest-xdist a later test's ``caplog`` would then miss WARNING
    records. Pin the root level for every test (caplog restores it afterwards)."""
    import logging

    caplog.set_level(logging.INFO)
    yield
