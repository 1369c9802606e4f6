"""``ptycho.probe`` (api spec §4, physics §6). Implementation: :mod:`ptychopinn_plugin.workflows.compat_probe`."""

from ptychopinn_plugin.workflows.compat_probe import (  # noqa: F401
    get_default_probe,
    get_probe_mask,
    set_default_probe,
    set_probe,
    set_probe_guess,
)

__all__ = ["get_default_probe", "get_probe_mask", "set_default_probe", "set_probe", "set_probe_guess"]
