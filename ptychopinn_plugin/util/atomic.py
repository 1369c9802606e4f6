"""Atomic file writing: a reader never sees a half-written file.

Everything is written to a temporary file in the destination directory and moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows for files on the
same filesystem.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it into place on success.

    On any exception the temporary file is removed and ``destination`` is untouched.
    ``suffix`` lets writers that append their own extension (``np.savez`` adds
    ``.npz``) write to a name they will not alter.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=f".tmp{suffix}", dir=destination.parent
    )
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(destination: str | os.PathLike[str], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing and move it onto ``destination`` when closed."""
    with atomic_path(destination) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(destination: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``destination`` atomically."""
    with atomic_open(destination, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_savez(destination: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """``np.savez`` (uncompressed, so members can be streamed) to ``destination`` atomically.

    Object arrays are refused: every file we write must load with ``allow_pickle=False``.
    """
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise ValueError(f"refusing to write object array for key '{key}' (it would need pickle)")
    with atomic_path(destination, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
