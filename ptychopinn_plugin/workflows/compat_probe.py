"""Probe names of the ``ptycho`` shim (``ptycho.probe``; api spec §4, physics §6).

The original kept the probe in the global ``params.cfg['probe']`` as ``(N, N, 1)``;
these helpers keep writing it there for compatibility (a runtime key of api §2.5).
Library code never reads it: models carry their own probe.  When an argument is
omitted, ``N`` and ``probe_scale`` come from ``params.cfg`` (the only place the shim
reads configuration back).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from ptychopinn_plugin.config import legacy_params
from ptychopinn_plugin.data.validation import canonical_probe
from ptychopinn_plugin.physics.probe import default_probe, estimate_probe, normalise_probe, probe_mask

logger = logging.getLogger(__name__)

__all__ = ["set_probe_guess", "get_default_probe", "get_probe_mask", "set_probe", "set_default_probe"]

_FORMATS = ("np", "tf")


def _store(probe: np.ndarray) -> np.ndarray:
    stored = np.ascontiguousarray(probe, dtype=np.complex64)[..., None]
    legacy_params.set("probe", stored)
    return stored


def set_probe_guess(X_train: Any = None, probe_guess: Any = None) -> np.ndarray:
    """Normalise a probe (physics §6.1) and store it as ``params.cfg['probe']`` ``(N, N, 1)``.

    ``probe_guess``: ``(N, N)``, ``(N, N, 1)`` or a ``(P, N, N)`` mode stack (dominant mode
    kept, data §1.5).  With ``probe_guess=None`` a Gaussian probe is estimated from the
    diffraction amplitudes ``X_train`` (physics §6.3).  Returns the stored array.
    """
    if probe_guess is None:
        if X_train is None:
            raise ValueError("set_probe_guess needs probe_guess or X_train (to estimate a probe from)")
        raw = estimate_probe(np.asarray(X_train))
        logger.info("estimated a Gaussian probe from X_train %s", np.shape(X_train))
    else:
        raw = canonical_probe(probe_guess, None, source="set_probe_guess")
    scale = float(legacy_params.cfg.get("probe_scale", 4.0))
    return _store(normalise_probe(raw, scale))


def get_default_probe(N: int, fmt: str = "np") -> Any:
    """The synthetic default probe (physics §6.3) as complex64 ``(N, N)``; ``fmt='tf'`` → tensor."""
    if fmt not in _FORMATS:
        raise ValueError(f"fmt = {fmt!r} is invalid; allowed: 'np' or 'tf'")
    probe = default_probe(N).astype(np.complex64)
    if fmt == "tf":
        from ptychopinn_plugin.workflows.backend_ops import import_tf_backend

        import_tf_backend()
        from ptychopinn_plugin.backends.tf.container import to_tensor

        return to_tensor(probe)
    return probe


def get_probe_mask(N: Optional[int] = None) -> np.ndarray:
    """The circular mask of physics §6.2 as float32 ``(N, N, 1)`` (``N`` from params.cfg if omitted)."""
    n = int(legacy_params.cfg["N"]) if N is None else int(N)
    return probe_mask(n)[..., None]


def set_probe(probe: Any) -> np.ndarray:
    """Store ``probe`` as given (no normalisation; ``(N, N)``, ``(N, N, 1)`` or a mode stack)."""
    return _store(canonical_probe(probe, None, source="set_probe"))


def set_default_probe(N: Optional[int] = None) -> np.ndarray:
    """Store the normalised default probe for ``N`` (params.cfg's ``N`` when omitted)."""
    n = int(legacy_params.cfg["N"]) if N is None else int(N)
    scale = float(legacy_params.cfg.get("probe_scale", 4.0))
    return _store(normalise_probe(default_probe(n), scale))
