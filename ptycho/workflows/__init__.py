"""``ptycho.workflows``: ``components`` and ``backend_selector`` (resolved lazily)."""

from ptychopinn_plugin.util.lazy import lazy_submodules

_SUBMODULES = frozenset({"components", "backend_selector"})


__getattr__, __dir__ = lazy_submodules(__name__, _SUBMODULES, globals())
