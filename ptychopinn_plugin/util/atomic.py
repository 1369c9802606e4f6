"""Atomic file writing: a reader never sees a half-written file.

Everything is written to a temporary file in the destination directory and moved into
place with :func:`os.replace`, which is atomic on POSIX and Windows for files on the
same filesystem.

A process killed mid-write (``kill -9``, power loss) cannot clean up, so temporary names
carry the writer's process id — ``.<name>.<pid>.<random>.tmp`` — and the next write to
the same destination removes those whose process is gone (issue #15 item 4).  Names
written before this rule (no pid) are removed once they are older than
:data:`LEGACY_STALE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

import numpy as np

logger = logging.getLogger(__name__)

LEGACY_STALE_SECONDS = 3600.0
"""Age after which a temporary of the old naming (no pid inside) counts as debris."""


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (signal 0 probes without sending)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def temporary_prefix(name: str) -> str:
    """Prefix of this process's temporaries for destination file name ``name``."""
    return f".{name}.{os.getpid()}."


def remove_stale_temporaries(directory: str | os.PathLike[str], name: str) -> list[Path]:
    """Remove temporaries of destination ``name`` in ``directory`` left by dead writers.

    Matches ``.<name>.<pid>.*`` (files or directories) whose ``pid`` no longer runs, and
    old-style ``.<name>.<random>.tmp*`` / ``.<name>.staging-*`` older than
    :data:`LEGACY_STALE_SECONDS`.  Returns what was removed (each logged at INFO).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    with_pid = re.compile(rf"^\.{re.escape(name)}\.(\d+)\.")
    legacy = re.compile(rf"^\.{re.escape(name)}\.(staging-.+|[A-Za-z0-9_]{{8}}\.tmp.*)$")
    removed: list[Path] = []
    now = time.time()
    for entry in directory.iterdir():
        match = with_pid.match(entry.name)
        if match:
            stale = not process_alive(int(match.group(1)))
        elif legacy.match(entry.name):
            try:
                stale = now - entry.lstat().st_mtime > LEGACY_STALE_SECONDS
            except FileNotFoundError:
                continue
        else:
            continue
        if not stale:
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
            logger.info("removed %s, left behind by an interrupted write", entry)
    return removed


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``destination``; rename it into place on success.

    On any exception the temporary file is removed and ``destination`` is untouched.
    ``suffix`` lets writers that append their own extension (``np.savez`` adds
    ``.npz``) write to a name they will not alter.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(destination.parent, destination.name)
    fd, tmp_name = tempfile.mkstemp(
        prefix=temporary_prefix(destination.name), suffix=f".tmp{suffix}", dir=destination.parent
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
