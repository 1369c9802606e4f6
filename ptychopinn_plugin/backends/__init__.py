"""Deep-learning backends.

``backends.tf`` (TensorFlow/Keras 3) and ``backends.torch`` (PyTorch/Lightning) are
imported only when selected; this package itself imports neither framework, so the
framework-free layers (and Ptychodus's GUI process) can import ``ptychopinn_plugin``
without creating a GPU context.
"""
