"""Fixtures of the desktop-app tests: temporary QSettings and cache, a tiny sample, a window.

Everything the app persists goes to ``tmp_path`` (QSettings INI path and the
``PTYCHOPINN_GUI_CACHE`` directory), never to the user's home.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PyQt5")
pytest.importorskip("pytestqt")

from ptychopinn_plugin.simulation import SimulationConfig  # noqa: E402

TINY_SAMPLE = SimulationConfig(N=64, object_size=128, n_positions=64, seed=0, nphotons=1e6)
"""64 patterns of 64×64 on a 128-pixel object: simulates in ~0.2 s."""


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    """Temporary settings (INI) and cache directories for one test."""
    from PyQt5.QtCore import QSettings

    settings_dir = tmp_path / "settings"
    cache = tmp_path / "cache"
    settings_dir.mkdir()
    monkeypatch.setenv("PTYCHOPINN_GUI_CACHE", str(cache))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(settings_dir))
    QSettings.setPath(QSettings.IniFormat, QSettings.SystemScope, str(settings_dir / "system"))
    return {"settings_dir": settings_dir, "cache": cache}


@pytest.fixture(scope="session")
def tiny_sample(tmp_path_factory):
    """``(train_data.npz, test_data.npz)`` of the tiny simulated sample (session-wide)."""
    from ptychopinn_plugin.simulation import simulate_train_test

    return simulate_train_test(TINY_SAMPLE, tmp_path_factory.mktemp("tiny_sample"))


@pytest.fixture
def app_window(qtbot, gui_env):
    """``(window, controller)``; the worker is shut down and the window closed afterwards."""
    from ptychopinn_gui.settings import AppSettings
    from ptychopinn_gui.window import create_main_window

    window, controller = create_main_window(AppSettings())
    window.force_close = True  # never ask "quit anyway?" in a test (nobody can answer)
    qtbot.addWidget(window)
    window.show()
    yield window, controller
    controller.worker.shutdown()
    window.close()


@pytest.fixture
def configure_tiny():
    """A function setting the tiny training parameters (N = 64 comes from the data)."""

    def configure(controller, nepochs=2):
        form = controller.form
        form.model.set("n_filters_scale", 1)
        form.training.set("nepochs", nepochs)
        form.training.set("batch_size", 16)
        form.training.set("n_groups", 32)
        form.training.set("seed", 1)
        return controller.validate()

    return configure


FRAMEWORKS = ("tensorflow", "keras", "torch", "lightning", "tensordict")
"""Deep-learning packages the GUI process must never import (the worker process does)."""


@pytest.fixture
def framework_guard():
    """A check that no framework was imported into this (the GUI) process during the test.

    Under pytest-xdist another test may already have imported a framework into this
    worker; those cannot be re-detected here, so this check covers the frameworks not yet
    loaded.  ``test_gui_fresh_process.py`` runs the whole flow in a fresh interpreter,
    where the check is complete.
    """
    before = {name for name in FRAMEWORKS if name in sys.modules}

    def check() -> None:
        new = sorted({name for name in FRAMEWORKS if name in sys.modules} - before)
        assert not new, f"the GUI process imported {new}"

    return check
