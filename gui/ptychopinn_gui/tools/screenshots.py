"""Render the documentation screenshots of the desktop app (offscreen, real app, real training).

::

    python -m ptychopinn_gui.tools.screenshots [--out docs/images] [--nepochs 8] [--n-groups 256]
        [--n-filters-scale 2] [--preset FILE.yaml] [--mid-epoch 4] [--skip-training]
        [--refine-iterations 100]

Writes ``gui_data.png`` (sample loaded), ``gui_training.png`` (training in progress, live
loss curve and preview), ``gui_reconstruction.png`` (after training: the loss curve and
the test reconstruction next to its ground truth with SSIM/PSNR/FRC50) and
``gui_models.png`` (the trained model's archive summary); with ``--refine-iterations K``
(default 100; 0 = skip) the trained model then reconstructs the test data with K
refinement iterations: ``gui_refined.png`` (the refined reconstruction next to its ground
truth) and ``gui_misfit.png`` (the same with the misfit map switched on).  Uses temporary settings and
cache directories, so the user's own settings are untouched.  Images larger than
``--max-kb`` are scaled down.  Files are written atomically.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "DEFAULTS"]

DEFAULTS = {"nepochs": 8, "n_groups": 256, "n_filters_scale": 2}
"""Training of the documentation images (TensorFlow, CPU: ~3 min on 2 shared cores)."""


def _save(widget, path: Path, max_kb: int) -> Path:  # noqa: ANN001 - QWidget
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, Qt

    from ptychopinn_plugin.util.atomic import atomic_path

    for canvas in widget.findChildren(_canvas_type()):
        canvas.draw()

    image = widget.grab().toImage()
    scale = 1.0
    while True:
        scaled = image if scale == 1.0 else image.scaledToWidth(int(image.width() * scale), Qt.SmoothTransformation)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.WriteOnly)
        if not scaled.save(buffer, "PNG", 0):
            raise OSError(f"cannot encode the screenshot {path}")
        buffer.close()
        size_kb = data.size() / 1024
        if size_kb <= max_kb or scale < 0.4:
            with atomic_path(path, suffix=".png") as tmp:
                tmp.write_bytes(bytes(data))
            print(f"wrote {path} ({scaled.width()}×{scaled.height()}, {size_kb:.0f} KB)")
            return path
        scale *= 0.85


def _canvas_type():  # noqa: ANN202
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    return FigureCanvasQTAgg


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ptychopinn-gui-screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="output directory (default %(default)s)")
    parser.add_argument("--nepochs", type=int, default=None, help=f"default {DEFAULTS['nepochs']} (without --preset)")
    parser.add_argument("--n-groups", type=int, default=None, help=f"default {DEFAULTS['n_groups']} (without --preset)")
    parser.add_argument("--n-filters-scale", type=int, default=None,
                        help=f"network width, default {DEFAULTS['n_filters_scale']} (without --preset)")
    parser.add_argument("--preset", default=None,
                        help="parameter preset (YAML, as saved by the app or a ptychopinn-train --config file); "
                             "--nepochs/--n-groups/--n-filters-scale given explicitly override it")
    parser.add_argument("--mid-epoch", type=int, default=4, help="epoch of the 'training in progress' shot")
    parser.add_argument("--skip-training", action="store_true", help="only the data screenshot")
    parser.add_argument("--refine-iterations", type=int, default=100,
                        help="refinement iterations of the refined-reconstruction shots (0 = no such shots)")
    parser.add_argument("--max-kb", type=int, default=290)
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)

    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    scratch = Path(tempfile.mkdtemp(prefix="ptychopinn-gui-shots-"))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(scratch / "settings"))
    os.environ["PTYCHOPINN_GUI_CACHE"] = str(scratch / "cache")

    from ptychopinn_gui.settings import AppSettings
    from ptychopinn_gui.window import create_main_window

    app = QApplication.instance() or QApplication(["ptychopinn-gui-screenshots"])
    window, controller = create_main_window(AppSettings())
    try:
        return _shoot(args, out, app, window, controller)
    finally:
        window.force_close = True
        window.close()  # saves nothing of the user's: settings and cache live in `scratch`
        shutil.rmtree(scratch, ignore_errors=True)


def _shoot(args: argparse.Namespace, out: Path, app, window, controller) -> int:  # noqa: ANN001 - Qt objects
    from PyQt5.QtCore import QTimer

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
    if args.preset is not None:
        if not controller.load_preset(args.preset):
            print("cannot load the preset:", controller.errors[-1][1], file=sys.stderr)
            return 1
    else:
        for option, value in DEFAULTS.items():
            if getattr(args, option) is None:
                setattr(args, option, value)
        form.training.set("seed", 1)
    if args.nepochs is not None:
        form.training.set("nepochs", args.nepochs)
    if args.n_groups is not None:
        form.training.set("n_groups", args.n_groups)
    if args.n_filters_scale is not None:
        form.model.set("n_filters_scale", args.n_filters_scale)
    report = controller.validate()
    if not report.ok:
        print("invalid parameters:", "; ".join(report.messages()), file=sys.stderr)
        return 1
    window.training_panel.preview_every.setValue(max(1, args.mid_epoch // 2))  # previews at mid_epoch too (even)
    state = {"mid": False, "code": 0}

    def on_yield(msg: dict) -> None:
        # The mid-run shot waits for the preview of --mid-epoch, so loss curve and preview agree.
        rec = msg.get("reconstruction") or {}
        if msg.get("kind") == "preview" and (rec.get("epoch") or 0) + 1 >= args.mid_epoch and not state["mid"]:
            state["mid"] = True
            QTimer.singleShot(300, lambda: _save(window, out / "gui_training.png", args.max_kb))

    def on_finished(job_id: str) -> None:
        if controller.errors:
            print(f"{job_id} failed:", controller.errors, file=sys.stderr)
            state["code"] = 1
        elif job_id.startswith("infer"):
            window.tabs.setCurrentWidget(window.models_panel)
            app.processEvents()
            _save(window, out / "gui_refined.png", args.max_kb)
            window.image_panel.misfit_toggle.setChecked(True)
            app.processEvents()
            _save(window, out / "gui_misfit.png", args.max_kb)
        else:
            # The loss curve (Training tab) next to the final reconstruction and its ground truth.
            window.tabs.setCurrentWidget(window.training_panel)
            app.processEvents()
            if not state["mid"]:
                _save(window, out / "gui_training.png", args.max_kb)
            _save(window, out / "gui_reconstruction.png", args.max_kb)
            window.tabs.setCurrentWidget(window.models_panel)
            app.processEvents()
            _save(window, out / "gui_models.png", args.max_kb)
            if args.refine_iterations > 0:
                # Then the trained model on the held-out data, refined through the physics.
                form.inference.set("refine_iterations", args.refine_iterations)
                models = window.models_panel
                models.dataset_combo.setCurrentIndex(models.dataset_combo.findData("test"))
                QTimer.singleShot(0, lambda: controller.reconstruct() is not None or give_up())
                return
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
