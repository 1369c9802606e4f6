"""ptychopinn: physics-informed neural-network ptychography.

Importing this package is cheap on purpose: it loads no deep-learning framework and no
Qt (Ptychodus imports us in its GUI process, which must never hold a TF/CUDA context).
Backends live in :mod:`ptychopinn_plugin.backends` and are imported only when selected.
"""

from ptychopinn_plugin._version import __version__

__all__ = ["__version__"]
