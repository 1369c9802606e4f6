"""The ``ptychopinn-ptychodus`` launcher: stock Ptychodus window with our library added (offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ptychodus")
pytest.importorskip("PyQt5")
pytest.importorskip("pytestqt")
pytestmark = [pytest.mark.ptychodus, pytest.mark.gui]

ROOT = Path(__file__).resolve().parents[2]
OURS = "ptychopinn (ptychopinn)"


def test_main_window_lists_our_reconstructors_next_to_ptychodus_own(qtbot):
    from PyQt5.QtWidgets import QComboBox, QLabel, QStackedWidget

    from ptychopinn_plugin.ptychodus.launcher import create_main_window, create_model_core

    with create_model_core() as model:
        view, controller = create_main_window(model)
        qtbot.addWidget(view)
        controller.show_main_window("test")

        combos = [c for c in view.findChildren(QComboBox)
                  if f"{OURS}_pinn" in [c.itemText(i) for i in range(c.count())]]
        assert len(combos) == 1
        items = [combos[0].itemText(i) for i in range(combos[0].count())]
        ours = items.index(f"{OURS}_pinn")
        assert items[ours + 1] == f"{OURS}_supervised"
        assert items[ours - 1] == "ptychopinn_supervised"  # right after Ptychodus's built-in PtychoPINN
        assert "ptychopinn_pinn" in items

        # Ptychodus labels libraries without a settings panel "<name> not found!": ours has one.
        assert not [label.text() for label in view.findChildren(QLabel) if OURS in label.text().casefold()]

        model.processing_core.algorithm_parameter.set_value(f"{OURS}_supervised")
        qtbot.waitUntil(lambda: combos[0].currentText() == f"{OURS}_supervised", timeout=5000)
        stacks = [s for s in view.findChildren(QStackedWidget) if s.count() == len(items)]
        assert len(stacks) == 1 and stacks[0].currentIndex() == ours + 1
        labels = {label.text() for label in stacks[0].currentWidget().findChildren(QLabel)}
        assert {"Backend:", "Number of Epochs:", "Diffraction Domain:", "Learning Rate:"} <= labels
        assert "Grid Size:" not in labels  # Supervised models use gridsize 1

        # The panel edits the very parameters our reconstructors read.
        library = model.ptychopinn_plugin_library
        library.settings.training.nepochs.set_value(3)
        assert library.reconstructor("Supervised").settings.nepochs == 3


def _launch(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import sys\nfrom ptychopinn_plugin.ptychodus.launcher import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)


def _headless_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


def test_without_a_display_it_explains_and_exits_cleanly():
    done = _launch([], _headless_env())
    assert done.returncode == 0
    assert "no display" in done.stderr and "--offscreen" in done.stderr and "-b train" in done.stderr


def test_offscreen_screenshot(tmp_path):
    shot = tmp_path / "window.png"
    done = _launch(["--offscreen", "--log-level", "30", "--screenshot", str(shot)], _headless_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_self_test_and_version(capsys):
    from ptychopinn_plugin.ptychodus.launcher import main

    assert main(["--self-test"]) == 0
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "self-test passed" in out and "ptychodus 1.7" in out
