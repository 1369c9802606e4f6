"""A failing or dying worker produces an error dialog and the UI returns to idle (no hang).

Neither test needs a framework: the first job fails while reading its data file, the
second worker is killed (SIGKILL, as the OOM killer would) while importing TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

pytestmark = [pytest.mark.gui]


def _close_dialogs(controller):
    for box in list(controller.error_dialogs):
        box.close()


def test_worker_exception_shows_error_dialog_and_returns_to_idle(qtbot, app_window, tiny_sample, configure_tiny,
                                                                 tmp_path, framework_guard):
    window, controller = app_window
    train = tmp_path / "train_copy.npz"
    shutil.copy(tiny_sample[0], train)
    assert controller.load_dataset(train, "train") is not None
    assert configure_tiny(controller).ok
    train.unlink()  # the worker reads the file: it is gone now

    assert controller.train() is not None
    qtbot.waitUntil(lambda: not controller.worker.busy, timeout=60_000)

    assert len(controller.error_dialogs) == 1
    box = controller.error_dialogs[0]
    assert box.isVisible()
    assert "FileNotFoundError" in box.text() and str(train) in box.text()
    assert "Traceback" in box.detailedText()
    assert window.training_panel.train_button.isEnabled()
    assert not window.training_panel.stop_button.isEnabled()
    assert "failed" in window.training_panel.status_label.text()
    assert controller.worker.worker.alive, "an exception in a job must not kill the reusable worker"
    _close_dialogs(controller)
    qtbot.waitUntil(lambda: not controller.error_dialogs, timeout=2000)
    framework_guard()


def test_worker_killed_mid_job_shows_error_dialog(qtbot, app_window, tiny_sample, configure_tiny):
    window, controller = app_window
    assert controller.load_dataset(tiny_sample[0], "train") is not None
    assert configure_tiny(controller).ok

    def kill_when_importing(text: str) -> None:
        if text.startswith("starting the") and controller.worker.pid:
            os.kill(controller.worker.pid, signal.SIGKILL)

    controller.worker.status.connect(kill_when_importing)
    assert controller.train() is not None
    qtbot.waitUntil(lambda: not controller.worker.busy, timeout=60_000)

    assert [title for title, _ in controller.errors] == ["Worker process died"]
    message = controller.errors[0][1]
    assert "exited with code -9" in message and "SIGKILL" in message
    assert controller.error_dialogs and controller.error_dialogs[0].isVisible()
    assert window.training_panel.train_button.isEnabled()
    assert not controller.worker.worker.alive
    _close_dialogs(controller)


@pytest.mark.qt_no_exception_capture
def test_uncaught_exception_in_a_slot_is_logged_and_shown(qtbot, app_window):
    from PyQt5.QtCore import QTimer

    from ptychopinn_gui.excepthook import install_excepthook

    window, controller = app_window
    hook = install_excepthook(controller.show_error)
    try:
        def broken_slot() -> None:
            raise RuntimeError("boom from a slot")

        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: bool(controller.error_dialogs), timeout=5000)
    finally:
        hook.uninstall()
    assert hook.count == 1
    box = controller.error_dialogs[0]
    assert "RuntimeError: boom from a slot" in box.text()
    assert "broken_slot" in box.detailedText()
    assert any("boom from a slot" in line for line in window.log_panel.lines())
    _close_dialogs(controller)
