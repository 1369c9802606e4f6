"""The GUI process never imports a deep-learning framework — checked in a fresh interpreter.

The in-process GUI tests can only detect frameworks that no earlier test in the same
pytest worker has imported.  Here a clean Python process builds the real main window,
loads the simulated sample, shows the About box and trains one tiny epoch with the
TensorFlow backend through the worker process (the loss plot gets its point, so the
worker's messages were received and decoded in the GUI process), then reports which
framework modules are in its ``sys.modules``: none may be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.tf]

SCRIPT = r"""
import json, sys, time
from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication
QSettings.setDefaultFormat(QSettings.IniFormat)
QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, sys.argv[2])
from ptychopinn_gui.settings import AppSettings
from ptychopinn_gui.view.dialogs import show_about
from ptychopinn_gui.window import create_main_window

app = QApplication([])
window, controller = create_main_window(AppSettings())
window.force_close = True
window.show()
assert controller.load_dataset(sys.argv[1], "train") is not None
show_about(window).close()
form = controller.form
form.model.set("n_filters_scale", 1)
form.training.set("nepochs", 1)
form.training.set("n_groups", 32)
form.training.set("seed", 1)
window.training_panel.preview_every.setValue(0)
assert controller.validate().ok
assert controller.train() is not None
deadline = time.monotonic() + 240
while controller.worker.busy and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
x, y = window.training_panel.loss_plot.train_line.get_data()
frameworks = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "torch", "lightning", "tensordict"))
print(json.dumps({"busy": controller.worker.busy, "errors": [str(e) for e in controller.errors],
                  "epochs_plotted": len(list(x)), "frameworks": frameworks[:10]}))
controller.worker.shutdown()
window.close()
"""


def test_gui_process_stays_framework_free_through_a_training_run(tiny_sample, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="offscreen", PTYCHOPINN_GUI_CACHE=str(tmp_path / "cache"),
               MPLCONFIGDIR=str(tmp_path / "mpl"), XDG_RUNTIME_DIR=str(tmp_path))
    (tmp_path / "settings").mkdir()
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_sample[0]), str(tmp_path / "settings")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert not report["busy"] and not report["errors"], report
    assert report["epochs_plotted"] == 1, report
    assert report["frameworks"] == [], f"the GUI process imported {report['frameworks']}"
