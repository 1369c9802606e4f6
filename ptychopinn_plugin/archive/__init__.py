"""Model archive ``wts.h5.zip`` (api spec §7): a JSON-manifest zip that never needs pickle.

Framework-neutral on purpose (zipfile, json, hashlib, NumPy only): model payloads are
written and read by the backends through :class:`PayloadCodec`, so the Ptychodus GUI
process can validate archives (:func:`read_manifest_only`) without TensorFlow or torch.
Format and safety rules: ``docs/archive.md``.
"""

from ptychopinn_plugin.archive.codec import CodecResolver, PayloadCodec
from ptychopinn_plugin.archive.errors import ArchiveBackendMismatchError
from ptychopinn_plugin.archive.export import copy_archive
from ptychopinn_plugin.archive.layout import (
    ARCHIVE_NAME,
    FORMAT_NAME,
    FORMAT_VERSION,
    INFERENCE_MODEL,
    MAX_TOTAL_UNCOMPRESSED,
    PAYLOAD_FILENAMES,
    TRAINING_MODEL,
)
from ptychopinn_plugin.archive.reader import (
    ArchiveHandle,
    ArchiveInfo,
    LoadedArchive,
    load_archive,
    locate_archive,
    open_archive,
    read_manifest_only,
)
from ptychopinn_plugin.archive.writer import (
    archive_path_for_prefix,
    save_archive,
    save_multiple_models,
    save_to_prefix,
)

__all__ = [
    "ARCHIVE_NAME",
    "ArchiveBackendMismatchError",
    "ArchiveHandle",
    "ArchiveInfo",
    "CodecResolver",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "INFERENCE_MODEL",
    "LoadedArchive",
    "MAX_TOTAL_UNCOMPRESSED",
    "PAYLOAD_FILENAMES",
    "PayloadCodec",
    "TRAINING_MODEL",
    "archive_path_for_prefix",
    "copy_archive",
    "load_archive",
    "locate_archive",
    "open_archive",
    "read_manifest_only",
    "save_archive",
    "save_multiple_models",
    "save_to_prefix",
]
