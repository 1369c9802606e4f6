"""PEP 562 lazy re-exports for package ``__init__`` modules.

Packages re-export their public names without importing every submodule at import
time: ``import ptychopinn_plugin.data`` must stay cheap, and packages whose submodules
pull in h5py, a backend or Ptychodus must not load them until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` resolving ``name`` from ``package.<exports[name]>``.

    A resolved value is cached in ``namespace`` (the package's ``globals()``) so the
    lookup happens once.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


def lazy_submodules(
    package: str, submodules: frozenset[str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` importing ``package.<name>`` on first attribute access.

    For the compatibility packages (``ptycho``, ``ptycho_torch``): old client code uses
    e.g. ``ptycho.probe.set_probe_guess`` without importing ``ptycho.probe`` first, and
    importing the package itself must load no framework.
    """

    def __getattr__(name: str) -> Any:
        if name not in submodules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{name}")
        namespace[name] = module
        return module

    def __dir__() -> list[str]:
        return sorted(set(namespace) | submodules)

    return __getattr__, __dir__
