"""``ptycho.model_manager`` (api spec §7.4): ``save(out_prefix)`` and ``ModelManager``.

Implementation: :mod:`ptychopinn_plugin.workflows.compat_model`.
"""

from ptychopinn_plugin.workflows.compat_model import ModelManager, save  # noqa: F401

__all__ = ["ModelManager", "save"]
