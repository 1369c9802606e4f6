"""``ptychopinn-gui``: the standalone desktop app (api spec §9).

::

    ptychopinn-gui [FILES…] [--sample] [--offscreen] [--screenshot PNG] [--quit-after S]
                   [--log-level LEVEL]

* ``--sample`` preloads the built-in simulated sample (written to the cache directory);
* ``--offscreen`` renders without a display (``QT_QPA_PLATFORM=offscreen``);
* ``--screenshot PNG`` renders the main window after loading and exits;
* ``--quit-after S`` closes the app after S seconds.

Without PyQt5 the command exits with status 1 and says to install ``ptychopinn[gui]``.
Without a display (Linux: neither ``DISPLAY`` nor ``WAYLAND_DISPLAY``, and no
``QT_QPA_PLATFORM``) it prints how to run headless and exits cleanly (status 0).
This module imports PyQt5 only inside :func:`main`, after that check.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "build_parser", "display_available", "NO_QT_MESSAGE", "NO_DISPLAY_MESSAGE"]

NO_QT_MESSAGE = ("ptychopinn-gui needs PyQt5, which is not installed: install 'ptychopinn[gui]' "
                 "(pip install 'ptychopinn[gui]')")
NO_DISPLAY_MESSAGE = (
    "ptychopinn-gui: no display found (DISPLAY/WAYLAND_DISPLAY are not set). "
    "Run it in a desktop session, with a virtual display (xvfb-run ptychopinn-gui), "
    "or render without one: ptychopinn-gui --offscreen --sample --screenshot window.png"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ptychopinn-gui", description="PtychoPINN desktop app")
    parser.add_argument("files", nargs="*", help="datasets (.npz), a product (.h5) with its diffraction file, "
                                                 "or a model archive (.zip) to open")
    parser.add_argument("--sample", action="store_true", help="preload the built-in simulated sample")
    parser.add_argument("--offscreen", action="store_true", help="render offscreen (QT_QPA_PLATFORM=offscreen)")
    parser.add_argument("--screenshot", metavar="PNG", default=None,
                        help="render the main window after loading to PNG and exit")
    parser.add_argument("--quit-after", metavar="SECONDS", type=float, default=None,
                        help="close the app after SECONDS")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def display_available(environ: Optional[dict[str, str]] = None, platform: Optional[str] = None) -> bool:
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if env.get("QT_QPA_PLATFORM"):
        return True
    if not platform.startswith("linux"):
        return True  # Windows and macOS always have a window system
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _qt_available() -> bool:
    try:
        import PyQt5.QtWidgets  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not _qt_available():
        print(NO_QT_MESSAGE, file=sys.stderr)
        return 1
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if not display_available():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 0
    logging.basicConfig(level=getattr(logging, args.log_level), format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MPLBACKEND", "QtAgg")

    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from ptychopinn_gui.excepthook import install_excepthook
    from ptychopinn_gui.settings import APPLICATION, ORGANISATION
    from ptychopinn_gui.window import create_main_window

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "ptychopinn-gui"])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    window, controller = create_main_window()
    hook = install_excepthook(lambda title, message, details: controller.show_error(title, message, details))
    window.show()
    if args.sample:
        controller.load_sample()
    if args.files:
        controller.open_paths(list(args.files))

    shot_failed = False
    if args.screenshot:
        target = Path(args.screenshot)

        def grab_and_quit() -> None:
            nonlocal shot_failed
            for canvas in (window.data_panel.canvas, window.image_panel.canvas, window.training_panel.loss_plot.canvas):
                canvas.draw()
            from ptychopinn_plugin.util.atomic import atomic_path

            try:
                with atomic_path(target, suffix=target.suffix or ".png") as tmp:
                    if not window.grab().save(str(tmp)):
                        raise OSError(f"Qt could not encode {target}")
                ok = True
            except OSError as exc:
                ok = False
                shot_failed = True
                logging.getLogger(__name__).error("screenshot not written: %s", exc)
            print(f"screenshot {'written to' if ok else 'FAILED:'} {target}")
            window.force_close = True  # type: ignore[attr-defined]
            window.close()

        QTimer.singleShot(800, grab_and_quit)
    if args.quit_after is not None:
        def quit_now() -> None:
            window.force_close = True  # type: ignore[attr-defined]
            window.close()

        QTimer.singleShot(int(args.quit_after * 1000), quit_now)
    code = app.exec_()
    hook.uninstall()
    return 1 if shot_failed else int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
