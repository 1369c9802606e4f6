"""Package versions for the About box, read from installed metadata.

TensorFlow and torch versions come from ``importlib.metadata``: importing the frameworks
in the GUI process is forbidden (it would take seconds and, with CUDA, create a device
context in the GUI process).
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["package_versions"]

PACKAGES = (
    ("ptychopinn", ("ptychopinn",)),
    ("numpy", ("numpy",)),
    ("PyQt5", ("PyQt5",)),
    ("matplotlib", ("matplotlib",)),
    ("h5py", ("h5py",)),
    ("tensorflow", ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")),
    ("keras", ("keras",)),
    ("torch", ("torch",)),
    ("lightning", ("lightning",)),
)


def package_versions() -> dict[str, str]:
    """``{name: version or 'not installed'}``; never imports the packages themselves."""
    out: dict[str, str] = {}
    for label, distributions in PACKAGES:
        version = "not installed"
        for dist in distributions:
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        out[label] = version
    if out["ptychopinn"] == "not installed":
        from ptychopinn_plugin import __version__

        out["ptychopinn"] = __version__
    return out
