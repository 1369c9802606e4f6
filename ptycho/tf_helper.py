"""``ptycho.tf_helper`` (api spec §4): ``reassemble_position`` — implemented in NumPy (physics §10).

Accepts ``(B, N, N, 1)`` complex patches and offsets ``(B, 1, 2, 1)`` or ``(B, 1, 1, 2)``
(float32/float64); returns NumPy complex64 ``(P, P, 1)``.  Works without TensorFlow.
"""

from ptychopinn_plugin.physics.stitching import reassemble_position  # noqa: F401

__all__ = ["reassemble_position"]
