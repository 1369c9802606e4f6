"""Package version, read from the installed distribution metadata when available."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("ptychopinn")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
