"""``ptychopinn-gui`` entry point: missing PyQt5, no display, offscreen screenshot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ptychopinn_gui.app import NO_DISPLAY_MESSAGE, display_available, main

pytestmark = [pytest.mark.gui]


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PTYCHOPINN_GUI_CACHE=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_RUNTIME_DIR=str(tmp_path), MPLCONFIGDIR=str(tmp_path / "mpl"))
    env.update(extra)
    return env


def test_without_pyqt5_exits_1_with_install_hint(tmp_path):
    code = ("import sys; sys.modules['PyQt5'] = None; sys.modules['PyQt5.QtWidgets'] = None\n"
            "from ptychopinn_gui.app import main; raise SystemExit(main(['--offscreen']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path),
                         timeout=120)
    assert out.returncode == 1
    assert "install 'ptychopinn[gui]'" in out.stderr


def test_without_display_exits_cleanly_with_hint(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ptychopinn_gui", "--sample"], capture_output=True, text=True,
                         env=_env(tmp_path), timeout=120)
    assert out.returncode == 0
    assert out.stderr.strip() == NO_DISPLAY_MESSAGE
    assert "--offscreen" in out.stderr and "xvfb-run" in out.stderr
    assert not (tmp_path / "cache").exists(), "nothing is simulated or written without a display"


def test_display_detection_rules():
    assert not display_available({}, "linux")
    assert display_available({"DISPLAY": ":0"}, "linux")
    assert display_available({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert display_available({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert display_available({}, "win32") and display_available({}, "darwin")


def test_main_rejects_bad_arguments():
    with pytest.raises(SystemExit) as exc:
        main(["--quit-after", "soon"])
    assert exc.value.code == 2


def test_quit_after_closes_the_app(tmp_path):
    data = tmp_path / "nothing.npz"  # a missing file: reported inline, the app still starts and quits
    out = subprocess.run([sys.executable, "-m", "ptychopinn_gui", "--offscreen", "--quit-after", "0.3", str(data)],
                         capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"file not found: {data}" in out.stderr


def test_offscreen_sample_screenshot(tmp_path):
    shot = tmp_path / "window.png"
    out = subprocess.run([sys.executable, "-m", "ptychopinn_gui", "--offscreen", "--sample", "--screenshot",
                          str(shot)], capture_output=True, text=True, env=_env(tmp_path), timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.is_file()
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 900
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
    sample = list((tmp_path / "cache" / "sample").rglob("*.npz"))
    assert sorted(p.name for p in sample) == ["test_data.npz", "train_data.npz"]
    settings = list((tmp_path / "config").rglob("ptychopinn-gui.ini"))
    assert len(settings) == 1 and "recent" in settings[0].read_text()


def test_screenshot_tool_data_view(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ptychopinn_gui.tools.screenshots", "--skip-training", "--out",
                          str(tmp_path / "images")], capture_output=True, text=True, env=_env(tmp_path), timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    shot = tmp_path / "images" / "gui_data.png"
    assert shot.is_file() and shot.stat().st_size < 300 * 1024
