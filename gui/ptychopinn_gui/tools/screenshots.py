"""Render the documentation screenshots of the desktop app (offscreen, real app, real training).

::

    python -m ptychopinn_gui.tools.screenshots [--out docs/images] [--nepochs 12] [--skip-training]

Writes ``gui_data.png`` (sample loaded), ``gui_training.png`` (training in progress, live
loss curve and preview) and ``gui_reconstruction.png`` (reconstruction next to the ground
truth with SSIM/PSNR/FRC50).  Uses temporary settings and cache directories, so the
user's own settings are untouched.  Images larger than ``--max-kb`` are scaled down.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main"]


def _save(widget, path: Path, max_kb: int) -> Path:  # noqa: ANN001 - QWidget
    from PyQt5.QtCore import Qt

    for canvas in widget.findChildren(_canvas_type()):
        canvas.draw()
    image = widget.grab().toImage()
    path.parent.mkdir(parents=True, exist_ok=True)
    scale = 1.0
    while True:
        scaled = image if scale == 1.0 else image.scaledToWidth(int(image.width() * scale), Qt.SmoothTransformation)
        if not scaled.save(str(path), "PNG", 0):
            raise OSError(f"cannot write {path}")
        size_kb = path.stat().st_size / 1024
        if size_kb <= max_kb or scale < 0.4:
            print(f"wrote {path} ({scaled.width()}×{scaled.height()}, {size_kb:.0f} KB)")
            return path
        scale *= 0.85


def _canvas_type():  # noqa: ANN202
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    return FigureCanvasQTAgg


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ptychopinn-gui-screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="output directory (default %(default)s)")
    parser.add_argument("--nepochs", type=int, default=12)
    parser.add_argument("--n-groups", type=int, default=256)
    parser.add_argument("--mid-epoch", type=int, default=4, help="epoch of the 'training in progress' shot")
    parser.add_argument("--skip-training", action="store_true", help="only the data screenshot")
    parser.add_argument("--max-kb", type=int, default=290)
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)

    from PyQt5.QtCore import QSettings, QTimer
    from PyQt5.QtWidgets import QApplication

    scratch = Path(tempfile.mkdtemp(prefix="ptychopinn-gui-shots-"))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(scratch / "settings"))
    os.environ["PTYCHOPINN_GUI_CACHE"] = str(scratch / "cache")

    from ptychopinn_gui.settings import AppSettings
    from ptychopinn_gui.window import create_main_window

    app = QApplication.instance() or QApplication(["ptychopinn-gui-screenshots"])
    window, controller = create_main_window(AppSettings())
    window.resize(1400, 860)
    window.show()
    controller.load_sample()
    app.processEvents()
    window.tabs.setCurrentWidget(window.data_panel)
    _save(window, out / "gui_data.png", args.max_kb)
    if args.skip_training:
        window.force_close = True
        window.close()
        return 0

    form = controller.form
    form.training.set("nepochs", args.nepochs)
    form.training.set("n_groups", args.n_groups)
    form.training.set("seed", 1)
    controller.validate()
    window.training_panel.preview_every.setValue(max(1, args.mid_epoch // 2))
    state = {"mid": False, "code": 0}

    def on_yield(msg: dict) -> None:
        if msg.get("kind") == "epoch" and msg.get("epoch", 0) + 1 >= args.mid_epoch and not state["mid"]:
            state["mid"] = True
            QTimer.singleShot(300, lambda: _save(window, out / "gui_training.png", args.max_kb))

    def on_finished(job_id: str) -> None:
        if controller.errors:
            print("training failed:", controller.errors, file=sys.stderr)
            state["code"] = 1
        else:
            window.tabs.setCurrentWidget(window.models_panel)
            app.processEvents()
            if not state["mid"]:
                window.tabs.setCurrentWidget(window.training_panel)
                _save(window, out / "gui_training.png", args.max_kb)
                window.tabs.setCurrentWidget(window.models_panel)
            _save(window, out / "gui_reconstruction.png", args.max_kb)
        window.force_close = True
        window.close()
        app.quit()

    def give_up() -> None:
        print(f"timed out after {args.timeout} s", file=sys.stderr)
        state["code"] = 1
        controller.cancel()
        window.force_close = True
        window.close()
        app.quit()

    controller.worker.yielded.connect(on_yield)
    controller.worker.finished.connect(on_finished)
    QTimer.singleShot(int(args.timeout * 1000), give_up)
    if controller.train() is None:
        print("cannot start training:", controller.last_report, file=sys.stderr)
        return 1
    app.exec_()
    return int(state["code"])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
