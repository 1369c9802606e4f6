"""``ptychopinn-ptychodus``: the stock Ptychodus application with our reconstructor library added.

Ptychodus 1.7 has no plugin hook for reconstructor libraries: ``ModelCore.__init__``
hard-codes the list it hands to ``ProcessingCore`` (which builds the "Algorithm"
dropdown) and ``ControllerCore.__init__`` hard-codes the settings-panel factories it
hands to ``ProcessingController``.  Without modifying Ptychodus, the launcher therefore
*composes* its public classes:

* :class:`PtychoPINNModelCore` subclasses ``ModelCore``; while its ``__init__`` runs, the
  name ``ProcessingCore`` in ``ptychodus.model.core`` refers to a subclass that inserts
  :class:`~ptychopinn_plugin.ptychodus.PtychoPINNLibrary` (built on the application's own
  settings registry) right after Ptychodus's built-in PtychoPINN library;
* :func:`create_main_window` builds ``ControllerCore`` the same way, with a
  ``ProcessingController`` subclass that adds our settings panel factory.

Both swaps are scoped to the constructor call and restored afterwards; a Ptychodus
release that renames those attributes fails with a clear message (see
``_ptychodus_api``).  Batch mode (``-b train|reconstruct -i DIR -o DIR``) and the
command-line options are those of ``ptychodus``; select our reconstructors with the
settings file key ``[Processing] Algorithm = ptychopinn (ptychopinn)_pinn`` (or
``…_supervised``).

This module and the adapter are the only places that touch Qt.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Optional, Sequence

from ptychopinn_plugin.ptychodus import _ptychodus_api as api

logger = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_LIBRARY_NAME",
    "NO_DISPLAY_MESSAGE",
    "create_main_window",
    "create_model_core",
    "display_available",
    "main",
]

PROG = "ptychopinn-ptychodus"
BUILTIN_LIBRARY_NAME = "PtychoPINN"
"""Name of Ptychodus's own PtychoPINN library; ours is listed right after it."""
NO_DISPLAY_MESSAGE = (
    f"{PROG}: no display available (DISPLAY/WAYLAND_DISPLAY unset), so the Ptychodus window cannot open.\n"
    f"Hint: run it on a desktop session or with 'ssh -X', use '{PROG} --offscreen' to render without a "
    f"screen, or run without a window in batch mode: '{PROG} -b train|reconstruct -i INPUT_DIR -o OUTPUT_DIR'."
)

_PANEL_GROUPS = (
    ("PtychoPINNModel", "Model", "model"),
    ("PtychoPINNTraining", "Training", "training"),
    ("PtychoPINNInference", "Inference", "inference"),
    ("PtychoPINNExecution", "Execution (PyTorch)", "execution"),
)


# =========================================================================== composition
@contextmanager
def _swapped(module: Any, name: str, replacement: Any) -> Iterator[Any]:
    """Temporarily point ``module.name`` at ``replacement`` (restored even on error)."""
    original = api.get_attribute(module, name)
    setattr(module, name, replacement)
    try:
        yield original
    finally:
        setattr(module, name, original)


def _insert_after(items: Sequence[Any], new: Any, name: str) -> list[Any]:
    """``items`` with ``new`` placed after the element whose ``.name`` is ``name`` (else last)."""
    result = list(items)
    for index, item in enumerate(result):
        if getattr(item, "name", None) == name:
            result.insert(index + 1, new)
            return result
    result.append(new)
    return result


def _bind(function: Any, *args: Any, **kwargs: Any) -> inspect.BoundArguments:
    bound = inspect.signature(function).bind(*args, **kwargs)
    return bound


def _model_core_class(app: SimpleNamespace) -> type:
    from ptychopinn_plugin.ptychodus.library import PtychoPINNLibrary

    original_processing_core = api.get_attribute(app.model_core_module, api.PROCESSING_CORE_NAME)

    class PtychoPINNModelCore(app.ModelCore):  # type: ignore[misc, name-defined]
        """Ptychodus's ``ModelCore`` plus ``ptychopinn_plugin_library`` in the reconstructor list."""

        def __init__(self, settings_file: Optional[Path] = None, *, log_level: int = logging.WARNING) -> None:
            created: list[PtychoPINNLibrary] = []

            class ProcessingCoreWithPtychoPINN(original_processing_core):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    bound = _bind(original_processing_core.__init__, self, *args, **kwargs)
                    library = PtychoPINNLibrary(bound.arguments["settings_registry"])
                    created.append(library)
                    bound.arguments["algorithm_libraries"] = _insert_after(
                        bound.arguments["algorithm_libraries"], library, BUILTIN_LIBRARY_NAME)
                    super().__init__(*bound.args[1:], **bound.kwargs)

            with _swapped(app.model_core_module, api.PROCESSING_CORE_NAME, ProcessingCoreWithPtychoPINN):
                super().__init__(settings_file, log_level=log_level)
            if len(created) != 1:
                raise RuntimeError(
                    f"Ptychodus {api.ptychodus_version()}: ModelCore built {len(created)} ProcessingCore objects; "
                    "the PtychoPINN (ptychopinn) library could not be added (this launcher targets Ptychodus 1.7)"
                )
            self.ptychopinn_plugin_library = created[0]

    return PtychoPINNModelCore


def create_model_core(settings_file: Optional[Path] = None, *, log_level: int = logging.WARNING) -> Any:
    """A Ptychodus ``ModelCore`` whose reconstructor list includes our library (no Qt needed).

    Use it as Ptychodus does (``with create_model_core() as model: …``); our library is
    ``model.ptychopinn_plugin_library``.
    """
    app = api.load_app()
    return _model_core_class(app)(settings_file, log_level=log_level)


def _view_controller_factory(gui: SimpleNamespace, library: Any, file_dialog_factory: Any) -> Any:
    """Settings panel of our reconstructors, drawn with Ptychodus's own parameter widgets."""
    from ptychopinn_plugin.ptychodus.settings import visible_specs

    class PtychoPINNViewControllerFactory(gui.ReconstructorViewControllerFactory):  # type: ignore[misc, name-defined]
        @property
        def name(self) -> str:
            return library.name

        def create_view_controller(self, reconstructor_name: str) -> Any:
            model_type = "supervised" if reconstructor_name.casefold() == "supervised" else "pinn"
            builder = gui.ParameterViewBuilder(file_dialog_factory)
            for group_name, title, attribute in _PANEL_GROUPS:
                section = getattr(library.settings, attribute)
                for spec in visible_specs(group_name, model_type):
                    parameter = section.parameter(spec.field)
                    if spec.kind == "bool":
                        builder.add_check_box(parameter, spec.label, tool_tip=spec.tip, group=title)
                    elif spec.choices:
                        builder.add_combo_box(parameter, spec.choices, spec.label, tool_tip=spec.tip, group=title)
                    elif spec.field == "batch_size":
                        builder.add_view_controller(
                            gui.PowerTwoSpinBoxParameterViewController(parameter, tool_tip=spec.tip), spec.label,
                            group=title)
                    elif spec.kind == "int":
                        builder.add_spin_box(parameter, spec.label, tool_tip=spec.tip, group=title)
                    elif spec.kind == "real":
                        builder.add_decimal_line_edit(parameter, spec.label, tool_tip=spec.tip, group=title)
                    else:
                        builder.add_line_edit(parameter, spec.label, tool_tip=spec.tip, group=title)
            return builder.build_widget()

    return PtychoPINNViewControllerFactory()


def create_main_window(model: Any, *, is_developer_mode_enabled: bool = False) -> tuple[Any, Any]:
    """``(view, controller)``: Ptychodus's main window with our settings panel (needs a QApplication).

    ``model`` must come from :func:`create_model_core`.
    """
    library = getattr(model, "ptychopinn_plugin_library", None)
    if library is None:
        raise TypeError("create_main_window needs the model core of create_model_core()")
    gui = api.load_gui(api.load_app())
    original_controller = api.get_attribute(gui.controller_core_module, api.PROCESSING_CONTROLLER_NAME)

    class ProcessingControllerWithPtychoPINN(original_controller):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            bound = _bind(original_controller.__init__, self, *args, **kwargs)
            factory = _view_controller_factory(gui, library, bound.arguments["file_dialog_factory"])
            bound.arguments["view_controller_factories"] = _insert_after(
                bound.arguments["view_controller_factories"], factory, BUILTIN_LIBRARY_NAME)
            super().__init__(*bound.args[1:], **bound.kwargs)

    view = gui.ViewCore(is_developer_mode_enabled=is_developer_mode_enabled)
    with _swapped(gui.controller_core_module, api.PROCESSING_CONTROLLER_NAME, ProcessingControllerWithPtychoPINN):
        controller = gui.ControllerCore(model, view, is_developer_mode_enabled=is_developer_mode_enabled)
    return view, controller


# =========================================================================== command line
def display_available(environ: Optional[dict[str, str]] = None) -> bool:
    """Whether Qt can open a window: a non-Linux desktop, an X11/Wayland display, or a
    platform plugin chosen explicitly (``QT_QPA_PLATFORM``)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM"))


def _parser(app: Optional[SimpleNamespace]) -> argparse.ArgumentParser:
    directory = app.DirectoryType if app is not None else None
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Ptychodus with the PtychoPINN (ptychopinn) reconstructors (PINN, Supervised) added",
    )
    parser.add_argument("-b", "--batch", choices=("reconstruct", "train"), help="run an action non-interactively")
    parser.add_argument("-i", "--input-directory", metavar="INPUT_DIR",
                        type=directory(must_exist=True) if directory else Path,
                        help="input data directory (batch mode only)")
    parser.add_argument("-o", "--output-directory", metavar="OUTPUT_DIR",
                        type=directory(must_exist=False) if directory else Path,
                        help="output data directory (batch mode only)")
    parser.add_argument("--log-level", type=int, default=logging.INFO, help="Python logging level (number)")
    parser.add_argument("-s", "--settings", metavar="SETTINGS_FILE", type=Path, help="settings file (.ini)")
    parser.add_argument("--offscreen", action="store_true",
                        help="render with Qt's offscreen platform (no display needed)")
    parser.add_argument("--screenshot", metavar="PNG", type=Path,
                        help="save an image of the main window (reconstruction view) and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="check that a PtychoPINN child process can be started, then exit")
    parser.add_argument("-v", "--version", action="store_true", help="print versions and exit")
    return parser


def _self_test() -> int:
    from ptychopinn_plugin.ptychodus._child import ChildRun

    with ChildRun("ptychopinn_plugin.ptychodus._worker:selftest", {"mode": "ok", "value": "ready"}) as run:
        messages = list(run.messages())
    ok = messages == [("echo", "ready")]
    print(f"{PROG}: child process self-test {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


def _show_reconstructor_page(controller: Any, view: Any) -> None:
    """Select our PINN reconstructor and Ptychodus's Processing page (for screenshots)."""
    controller.model.processing_core.algorithm_parameter.set_value(
        f"{controller.model.ptychopinn_plugin_library.name.casefold()}_pinn")
    action = getattr(view, "processing_action", None)
    if action is not None:
        action.trigger()


def _save_screenshot(qapp: Any, view: Any, controller: Any, path: Path) -> None:
    _show_reconstructor_page(controller, view)
    view.resize(1400, 900)
    for _ in range(5):
        qapp.processEvents()
    image = view.grab()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path)):
        raise OSError(f"could not write the screenshot {path}")
    print(f"{PROG}: wrote {path}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point (``ptychopinn-ptychodus``); returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    pre, _ = _parser(None).parse_known_args(arguments)
    if pre.version:
        from ptychopinn_plugin import __version__

        print(f"{PROG}: ptychopinn {__version__}, ptychodus {api.ptychodus_version()}")
        return 0
    if pre.self_test:
        return _self_test()
    if pre.offscreen or pre.screenshot is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if pre.batch is None and not display_available():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 0

    app = api.load_app()
    parser = _parser(app)
    parsed, unparsed = parser.parse_known_args(arguments)
    model_core_class = _model_core_class(app)
    with model_core_class(parsed.settings, log_level=parsed.log_level) as model:
        if parsed.batch is not None:
            if unparsed:
                parser.error("unrecognized arguments: " + " ".join(unparsed))
            if parsed.input_directory is None or parsed.output_directory is None:
                parser.error("batch mode requires -i INPUT_DIR and -o OUTPUT_DIR")
            return int(model.batch_mode_execute(parsed.batch, parsed.input_directory, parsed.output_directory))

        try:
            from PyQt5.QtWidgets import QApplication
        except ModuleNotFoundError:
            print(f"{PROG}: PyQt5 is not installed (pip install 'ptychopinn[gui]')", file=sys.stderr)
            return 1
        qapp = QApplication.instance() or QApplication([PROG, *unparsed])
        view, controller = create_main_window(model, is_developer_mode_enabled=model.is_developer_mode_enabled)
        controller.show_main_window(f"{app.VERSION_STRING} + PtychoPINN (ptychopinn)")
        if parsed.screenshot is not None:
            _save_screenshot(qapp, view, controller, parsed.screenshot)
            return 0
        return int(qapp.exec())


if __name__ == "__main__":
    sys.exit(main())
