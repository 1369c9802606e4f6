"""``ptycho.model`` (api spec §4).

``autoencoder`` / ``diffraction_to_obj`` are the process's current model (set by training
and by loading), resolved lazily on attribute access; ``AttributeError`` with guidance
when none exists.  Implementation: :mod:`ptychopinn_plugin.workflows.compat_model`.
"""

from typing import Any

from ptychopinn_plugin.workflows.compat_model import (  # noqa: F401
    MODEL_ATTRIBUTES,
    create_compiled_model,
    create_model_with_gridsize,
    current_model_attribute,
    params,
)

__all__ = ["create_compiled_model", "create_model_with_gridsize", "params"]


def __getattr__(name: str) -> Any:
    if name in MODEL_ATTRIBUTES:
        return current_model_attribute(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
