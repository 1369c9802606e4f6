"""``ptycho.raw_data`` (api spec §4): ``RawData`` with the shim defaults.

Shim default ``diffraction_domain='auto'`` (Ptychodus passes integer detector counts) and
``generate_grouped_data``'s ``nsamples`` = groups per scan position (api spec §5.1).
Implementation: :mod:`ptychopinn_plugin.workflows.compat_data`.
"""

from ptychopinn_plugin.workflows.compat_data import RawData  # noqa: F401

__all__ = ["RawData"]
