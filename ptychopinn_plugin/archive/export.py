"""Copy a validated archive to a new location (Ptychodus ``save_model``, GUI "Save model").

The destination always receives a plain archive file, whatever form the source had:
the file itself (byte for byte), the inner ``wts.h5.zip`` of an outer zip (byte for
byte), or — for an unpacked directory — a fresh zip of exactly the listed members. The
copy is written atomically and its checksums are verified against the source manifest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import zipfile
from pathlib import Path

from ptychopinn_plugin.archive.layout import ARCHIVE_NAME, MANIFEST_NAME, MAX_TOTAL_UNCOMPRESSED
from ptychopinn_plugin.archive.reader import open_archive
from ptychopinn_plugin.archive.sources import copy_member, file_sha256
from ptychopinn_plugin.util.atomic import atomic_path

logger = logging.getLogger(__name__)


def copy_archive(source: str | os.PathLike[str], destination: str | os.PathLike[str], *,
                 max_total_bytes: int = MAX_TOTAL_UNCOMPRESSED) -> Path:
    """Validate ``source`` (any accepted form) and write it as an archive file.

    ``destination``: an existing directory → ``destination/wts.h5.zip``; otherwise the
    file path itself. Returns the written path. Raises the errors of
    :func:`~ptychopinn_plugin.archive.open_archive` for a bad source.
    """
    destination = Path(destination)
    if destination.is_dir():
        destination = destination / ARCHIVE_NAME
    with open_archive(source, max_total_bytes=max_total_bytes) as handle:
        info = handle.info
        src = handle.source
        with atomic_path(destination) as tmp:
            if info.form == "directory":
                with open(tmp, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
                    for member in [MANIFEST_NAME, *info.manifest["files"]]:
                        hasher = hashlib.sha256()
                        with zf.open(member, "w") as out:
                            copy_member(src, member, out, hasher)
                        expected = info.manifest["files"].get(member, info.manifest_sha256)
                        if hasher.hexdigest() != expected:
                            raise ValueError(f"{info.path}: member '{member}' changed while copying")
            else:
                with open(src.path, "rb") as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
                if file_sha256(tmp) != info.archive_sha256:
                    raise ValueError(f"{info.path}: the archive changed while copying")
    logger.info("copied model archive %s to %s", info.path, destination)
    return destination
