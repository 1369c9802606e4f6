"""``ptycho.workflows``: ``components`` and ``backend_selector`` (resolved lazily)."""

import importlib
from types import ModuleType

_SUBMODULES = frozenset({"components", "backend_selector"})


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | _SUBMODULES)
