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
