"""Names and limits of the ``wts.h5.zip`` archive layout (api spec §7.1, §7.2).

Kept in one place so the writer, the reader and the Ptychodus plugin agree on every
member name without importing each other.
"""

from __future__ import annotations

import re

from ptychopinn_plugin.config import ARCHIVE_NAME  # noqa: F401  "wts.h5.zip" (re-exported; not HDF5)

FORMAT_NAME = "ptychopinn-model-archive"
FORMAT_VERSION = "3.1"
FORMAT_MAJOR = 3
FORMAT_MINOR = 1
"""3.1 (issue #12): optional ``derived_models`` — models rebuilt from another archived
model's weights (``diffraction_to_obj`` shares every weight with ``autoencoder``), so each
weight is stored once.  3.0 archives (every model has its own payload) stay readable."""
DERIVED_MODELS_KEY = "derived_models"
PARAMS_SCHEMA = "ptychopinn.params/1"
REPRODUCIBILITY_SCHEMA = "ptychopinn.reproducibility/1"

MANIFEST_NAME = "manifest.json"
LEGACY_MANIFEST_NAME = "manifest.dill"
PARAMS_NAME = "params.json"
PROBE_NAME = "probe.npy"
HISTORY_NAME = "history.json"
REPRODUCIBILITY_NAME = "reproducibility.json"

BACKENDS = ("tensorflow", "pytorch")
PAYLOAD_FILENAMES = {"tensorflow": "model.keras", "pytorch": "model.pt"}
"""Model payload file inside ``<model name>/`` for each backend (§7.1)."""
MODEL_TYPES = ("pinn", "supervised")
INFERENCE_MODEL = "diffraction_to_obj"
TRAINING_MODEL = "autoencoder"

MAX_TOTAL_UNCOMPRESSED = 4 * 1024**3
"""Declared total uncompressed size above which an archive is refused (§7.5 item 1)."""
MAX_MEMBERS = 1000
"""More members than this is refused (our archives hold fewer than ten)."""
MAX_METADATA_BYTES = 64 * 1024**2
"""Largest JSON / probe member read into memory."""

CONVERTER_COMMAND = "ptychopinn convert-legacy-archive --trust-pickle"

RESERVED_TOP_LEVEL = frozenset(
    {MANIFEST_NAME, LEGACY_MANIFEST_NAME, PARAMS_NAME, PROBE_NAME, HISTORY_NAME, REPRODUCIBILITY_NAME}
)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_model_name(name: object) -> str:
    """A model name becomes a directory inside the archive, so it must be one plain component."""
    if not isinstance(name, str) or not _MODEL_NAME.match(name) or name in RESERVED_TOP_LEVEL or name in {".", ".."}:
        raise ValueError(
            f"invalid model name {name!r}: expected letters, digits, '_', '-', '.' "
            "(one path component, not a reserved archive file name)"
        )
    return name


def payload_member(model_name: str, backend: str) -> str:
    """Archive member holding the payload of ``model_name`` for ``backend``."""
    return f"{model_name}/{PAYLOAD_FILENAMES[backend]}"


def valid_derived_models(derived: object, names: object) -> bool:
    """The format-3.1 ``derived_models`` rule, shared by writer and reader: a mapping of
    archived model names to *other* archived models that have a payload of their own."""
    if not isinstance(derived, dict) or not isinstance(names, (list, tuple)):
        return False
    return all(
        isinstance(name, str) and isinstance(source, str) and name in names and source in names
        and source not in derived and name != source
        for name, source in derived.items()
    )
