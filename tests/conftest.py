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
def _restore_ctrl_c():
    """Every test starts with Python's own Ctrl-C handler and leaves it so.  Libraries change
    the process-wide SIGINT disposition and do not restore it (Lightning sets SIG_IGN after
    catching a KeyboardInterrupt in ``fit``; Ptychodus's batch CLI installs a cancellation
    handler); under pytest-xdist a later test in the same worker then never sees its Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _capture_logs_regardless_of_cli_tests(caplog):
    """CLI tests call ``logging.basicConfig(force=True)`` (e.g. ``--quiet`` → ERROR) in the
    same process; under pytest-xdist a later test's ``caplog`` would then miss WARNING
    records. Pin the root level for every test (caplog restores it afterwards)."""
    import logging

    caplog.set_level(logging.INFO)
    yield


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory):
    """``train_data.npz`` and ``test_data.npz`` (different objects) of a tiny simulated
    sample: 64 positions on a 128-px object (scan range [36, 92]), a few seconds to train on."""
    from ptychopinn_plugin.simulation import SimulationConfig, simulate_train_test

    out = tmp_path_factory.mktemp("tiny_data")
    simulate_train_test(SimulationConfig(N=64, object_size=128, n_positions=64, seed=0, nphotons=1e6), out)
    return out


@pytest.fixture
def clean_model_session():
    """No current model before and after the test (process-level state of the workflows).
    Directories whose tests train or load models make this autouse in their conftest."""
    from ptychopinn_plugin.workflows.session import clear_current_model

    clear_current_model()
    yield
    clear_current_model()
