"""The desktop app trains with the real PyTorch backend in the worker process.

The TensorFlow flow (``test_gui_training_flow.py``) covers previews, exports, stop and
cancel; this one checks that the backend selector really switches the framework the
worker imports: a fresh child is spawned for PyTorch, the loss plot gets one point per
epoch, the archive says ``pytorch`` and the device label shows what the worker reports.
Tiny sizes (N = 64, 32 groups, n_filters_scale = 1).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.torch]

RUN_TIMEOUT_MS = 300_000


def test_train_two_epochs_with_pytorch(qtbot, app_window, tiny_sample, configure_tiny, framework_guard):
    if importlib.util.find_spec("lightning") is None:  # importorskip would import torch here
        pytest.skip("PyTorch/Lightning not installed")
    window, controller = app_window
    train_file, test_file = tiny_sample
    assert controller.load_dataset(train_file, "train") is not None
    assert controller.load_dataset(test_file, "test") is not None

    panel = window.parameter_panel
    panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("pytorch"))
    assert controller.form.backend == "pytorch"
    report = configure_tiny(controller, nepochs=2)
    assert report.ok, report
    controller.form.torch.set("enable_checkpointing", False)
    controller.form.torch.set("logger_backend", None)
    window.training_panel.preview_every.setValue(0)

    assert controller.train() is not None
    qtbot.waitUntil(lambda: not controller.worker.busy, timeout=RUN_TIMEOUT_MS)
    assert not controller.errors, controller.errors
    framework_guard()
    assert controller.worker.worker.backend == "pytorch"

    x_train, y_train = window.training_panel.loss_plot.train_line.get_data()
    assert list(x_train) == [1, 2]
    assert np.all(np.isfinite(y_train))
    assert controller.model_summary is not None
    assert controller.model_summary.backend == "pytorch"
    assert window.models_panel.summary_value("Backend") == "pytorch"
    assert window.models_panel.summary_value("Epochs trained") == "2"
    assert "cpu" in panel.device_label.text().lower()
    rec = controller.reconstruction
    assert rec is not None and rec.backend == "pytorch"
    amplitude = window.image_panel.images["amplitude"].get_array()
    assert amplitude.ndim == 2 and float(np.ptp(amplitude)) > 0
