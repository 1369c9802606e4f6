"""Framework-neutral physics and stitching layer (NumPy/SciPy only).

Modules, one job each:

* :mod:`.geometry` — canvas size, central window, pad/crop, channel flattening;
* :mod:`.probe` — probe mask, normalisation, default/estimated probes, illumination;
* :mod:`.forward` — far-field propagation;
* :mod:`.intensity` — intensity scale and loss reference formulas;
* :mod:`.object_big` — reference of the in-model group merge and extraction;
* :mod:`.pipeline` — end-to-end physics reference for backend parity tests;
* :mod:`.stitching` — ``reassemble_position`` and product placement.

Nothing here imports TensorFlow, PyTorch or Qt.  SciPy is imported lazily (only the
default probe needs it), so importing this package costs NumPy only.
"""

from ptychopinn_plugin.physics.forward import far_field_amplitude, far_field_intensity
from ptychopinn_plugin.physics.geometry import (
    border_mask,
    canvas_size,
    central_window,
    crop_N,
    flatten_channels,
    pad_P,
    unflatten_channels,
)
from ptychopinn_plugin.physics.intensity import intensity_scale, mae_loss, poisson_nll
from ptychopinn_plugin.physics.probe import (
    default_probe,
    estimate_probe,
    illuminate,
    normalise_probe,
    probe_mask,
)
from ptychopinn_plugin.physics.stitching import (
    PatchStitcher,
    StitchGeometry,
    StitchResult,
    place_in_product_frame,
    reassemble_position,
    stitch_patches,
)

__all__ = [
    "PatchStitcher",
    "StitchGeometry",
    "StitchResult",
    "border_mask",
    "canvas_size",
    "central_window",
    "crop_N",
    "default_probe",
    "estimate_probe",
    "far_field_amplitude",
    "far_field_intensity",
    "flatten_channels",
    "illuminate",
    "intensity_scale",
    "mae_loss",
    "normalise_probe",
    "pad_P",
    "place_in_product_frame",
    "poisson_nll",
    "probe_mask",
    "reassemble_position",
    "stitch_patches",
    "unflatten_channels",
]
