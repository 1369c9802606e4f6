"""``ptycho.loader`` (data spec §3.1): ``load``, ``PtychoDataContainer`` (TF view), ``PtychoDataset``.

``PtychoDataContainer`` is resolved lazily because it is the TensorFlow-tensor view of
the NumPy container: importing this module does not import TensorFlow.
Implementation: :mod:`ptychopinn_plugin.workflows.compat_data`,
:mod:`ptychopinn_plugin.backends.tf.container`.
"""

from typing import Any

from ptychopinn_plugin.workflows.compat_data import PtychoDataset, load  # noqa: F401

__all__ = ["PtychoDataContainer", "PtychoDataset", "load"]


def __getattr__(name: str) -> Any:
    if name == "PtychoDataContainer":
        from ptychopinn_plugin.workflows.backend_ops import import_tf_backend

        import_tf_backend()
        from ptychopinn_plugin.backends.tf.container import PtychoDataContainerTF

        globals()[name] = PtychoDataContainerTF
        return PtychoDataContainerTF
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
