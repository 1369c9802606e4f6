"""The one module that imports Ptychodus (targets the Ptychodus 1.7 API).

Why one module: Ptychodus's plugin API changes between releases (1.1 → 1.7 renamed
every reconstructor method and moved the data containers).  Every other module of this
package imports Ptychodus names from here, so adapting to a new Ptychodus release
touches this file only.

Two tiers:

* module level — the data and reconstructor API (``ptychodus.api.*``): plain Python,
  NumPy, h5py and scikit-image, no GPU framework and no Qt; safe in the GUI process and
  in batch mode;
* :func:`load_app` — the application classes the launcher composes (model core,
  controller, views, parameter widgets).  Importing them loads PyQt5, so they are
  resolved only when the launcher asks for them.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

from ptychodus.api.geometry import PixelGeometry
from ptychodus.api.object import Object, ObjectCenter, ObjectGeometry
from ptychodus.api.observer import Observable, Observer
from ptychodus.api.parameters import (
    BooleanParameter,
    IntegerParameter,
    Parameter,
    ParameterGroup,
    PathParameter,
    RealParameter,
    StringParameter,
)
from ptychodus.api.preprocess.diffraction import inpaint_bad_pixels
from ptychodus.api.product import LossValue, Product, ProductMetadata
from ptychodus.api.reconstruct import (
    ReconstructInput,
    ReconstructOutput,
    Reconstructor,
    ReconstructorLibrary,
    TrainableReconstructor,
    TrainOutput,
)
from ptychodus.api.settings import SettingsRegistry

__all__ = [
    "BooleanParameter",
    "IntegerParameter",
    "LossValue",
    "Object",
    "ObjectCenter",
    "ObjectGeometry",
    "Observable",
    "Observer",
    "Parameter",
    "ParameterGroup",
    "PathParameter",
    "PixelGeometry",
    "Product",
    "ProductMetadata",
    "RealParameter",
    "ReconstructInput",
    "ReconstructOutput",
    "Reconstructor",
    "ReconstructorLibrary",
    "SettingsRegistry",
    "StringParameter",
    "TrainOutput",
    "TrainableReconstructor",
    "inpaint_bad_pixels",
    "load_app",
    "ptychodus_version",
]

# Module attributes the launcher replaces while the application is being built (see
# launcher.py).  Named here so that a Ptychodus release which renames them fails with a
# clear message instead of silently leaving our library out of the dropdown.
MODEL_CORE_MODULE = "ptychodus.model.core"
PROCESSING_CORE_NAME = "ProcessingCore"
CONTROLLER_CORE_MODULE = "ptychodus.controller.core"
PROCESSING_CONTROLLER_NAME = "ProcessingController"


def ptychodus_version() -> str:
    """Installed Ptychodus version (``'unknown'`` when the distribution metadata is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ptychodus")
    except PackageNotFoundError:
        return "unknown"


def load_app() -> SimpleNamespace:
    """Ptychodus application classes used by the launcher (imports PyQt5).

    Returns a namespace with ``ModelCore``, ``ProcessingCore``, ``ControllerCore``,
    ``ProcessingController``, ``ViewCore``, ``ReconstructorViewControllerFactory``,
    ``ParameterViewBuilder``, ``PowerTwoSpinBoxParameterViewController``, ``ExitCode``,
    ``DirectoryType``, ``VERSION_STRING`` and the two modules whose attributes the launcher
    swaps (``model_core_module``, ``controller_core_module``).
    """
    import ptychodus
    from ptychodus.api.exit_codes import ExitCode
    from ptychodus.cli import DirectoryType
    from ptychodus.model import ModelCore
    from ptychodus.model.processing import ProcessingCore

    model_core_module = importlib.import_module(MODEL_CORE_MODULE)
    for module, name in ((model_core_module, PROCESSING_CORE_NAME), (model_core_module, "ModelCore")):
        if not hasattr(module, name):
            raise RuntimeError(
                f"Ptychodus {ptychodus_version()} has no {module.__name__}.{name}; this launcher targets "
                "Ptychodus 1.7 (pip install 'ptychodus==1.7.*')"
            )
    namespace = SimpleNamespace(
        ptychodus=ptychodus,
        VERSION_STRING=getattr(ptychodus, "VERSION_STRING", ptychodus_version()),
        ExitCode=ExitCode,
        DirectoryType=DirectoryType,
        ModelCore=ModelCore,
        ProcessingCore=ProcessingCore,
        model_core_module=model_core_module,
    )
    return namespace


def load_gui(namespace: SimpleNamespace) -> SimpleNamespace:
    """Add the Qt-side classes (controller, view, parameter widgets) to ``namespace``."""
    from ptychodus.controller import ControllerCore
    from ptychodus.controller.parameters import ParameterViewBuilder, PowerTwoSpinBoxParameterViewController
    from ptychodus.controller.processing import ProcessingController, ReconstructorViewControllerFactory
    from ptychodus.view import ViewCore

    controller_core_module = importlib.import_module(CONTROLLER_CORE_MODULE)
    if not hasattr(controller_core_module, PROCESSING_CONTROLLER_NAME):
        raise RuntimeError(
            f"Ptychodus {ptychodus_version()} has no {CONTROLLER_CORE_MODULE}.{PROCESSING_CONTROLLER_NAME}; "
            "this launcher targets Ptychodus 1.7 (pip install 'ptychodus==1.7.*')"
        )
    namespace.ControllerCore = ControllerCore
    namespace.ParameterViewBuilder = ParameterViewBuilder
    namespace.PowerTwoSpinBoxParameterViewController = PowerTwoSpinBoxParameterViewController
    namespace.ProcessingController = ProcessingController
    namespace.ReconstructorViewControllerFactory = ReconstructorViewControllerFactory
    namespace.ViewCore = ViewCore
    namespace.controller_core_module = controller_core_module
    return namespace


def get_attribute(module: Any, name: str) -> Any:
    """``getattr`` with the launcher's error message (used when swapping app classes)."""
    try:
        return getattr(module, name)
    except AttributeError:
        raise RuntimeError(
            f"Ptychodus {ptychodus_version()} has no {module.__name__}.{name}; this launcher targets Ptychodus 1.7"
        ) from None
