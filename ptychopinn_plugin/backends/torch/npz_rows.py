"""Stream the rows of one ``.npy`` member of an NPZ archive without loading it (data §4).

Why: the memory-mapped builder must handle diffraction stacks far larger than RAM.
``np.load`` of an NPZ member materialises the whole array; here the member is opened
with :mod:`zipfile` (stored or deflated — ``ZipExtFile`` decompresses incrementally),
its ``.npy`` header is parsed, and fixed-size row blocks are read one after the other
into a reused buffer.  Nothing is unpickled: object dtypes are refused from the header.

Framework-free on purpose (only :mod:`zipfile` and NumPy); it lives with the torch
backend because the memory-mapped dataset is its only user.
"""

from __future__ import annotations

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["NpyStreamHeader", "NpzRowStream"]


@dataclass(frozen=True)
class NpyStreamHeader:
    """Header of a streamed member: key, shape, dtype, whether it is compressed."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    compressed: bool

    @property
    def row_shape(self) -> tuple[int, ...]:
        return self.shape[1:]

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize


def _read_header(handle, path: Path, key: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(handle)
        reader = getattr(np.lib.format, "_read_array_header", None)
        if reader is None:
            raise ValueError(f".npy format version {version} is not supported")
        return reader(handle, version)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: cannot parse the .npy header of member {key!r}: {exc}") from exc


class NpzRowStream:
    """Sequential row reader of NPZ member ``key`` (``key.npy``); use as a context manager.

    ``header`` gives shape and dtype before any data is read.  :meth:`iter_rows` yields
    ``(start_row, block)`` with blocks of at most ``rows`` rows (a view of a reused buffer:
    copy it to keep it).  Fortran-ordered members (rows not contiguous) and object dtypes
    are refused with a ``ValueError`` naming the file and key.
    """

    def __init__(self, path: str | os.PathLike[str], key: str) -> None:
        self.path = Path(path)
        self.key = key
        member = f"{key}.npy"
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{self.path} is not an NPZ archive (zip): {exc}") from exc
        try:
            info = self._zip.getinfo(member)
        except KeyError:
            self._zip.close()
            raise KeyError(f"{self.path} has no member {key!r}") from None
        self._handle = self._zip.open(info)
        try:
            shape, fortran, dtype = _read_header(self._handle, self.path, key)
            dtype = np.dtype(dtype)
            if dtype.hasobject:
                raise ValueError(
                    f"{self.path}: key {key!r} is an object-dtype (pickled) array; refusing to unpickle it"
                )
            if fortran and len(shape) > 1:
                raise ValueError(
                    f"{self.path}: key {key!r} is stored in Fortran order, so its rows cannot be streamed; "
                    "re-save the file with C-ordered arrays (np.savez of np.ascontiguousarray(...))"
                )
        except BaseException:
            self.close()
            raise
        self.header = NpyStreamHeader(
            key=key, shape=tuple(int(s) for s in shape), dtype=dtype,
            compressed=info.compress_type != zipfile.ZIP_STORED,
        )
        self._consumed = False

    def __enter__(self) -> "NpzRowStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
        self._zip.close()

    def iter_rows(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)``; every row is read exactly once (one pass per stream)."""
        if self._consumed:
            raise RuntimeError(f"{self.path}:{self.key}: a row stream can be iterated once; open a new one")
        self._consumed = True
        rows = max(1, int(rows))
        total = self.header.shape[0] if self.header.shape else 0
        row_bytes = self.header.row_bytes
        buffer = bytearray(rows * row_bytes)
        view = memoryview(buffer)
        start = 0
        while start < total:
            count = min(rows, total - start)
            wanted = count * row_bytes
            got = 0
            while got < wanted:
                n = self._handle.readinto(view[got:wanted])
                if not n:
                    raise ValueError(
                        f"{self.path}: member {self.key!r} ends after {start + got // max(1, row_bytes)} of "
                        f"{total} rows (truncated file?)"
                    )
                got += n
            block = np.frombuffer(buffer, dtype=self.header.dtype, count=count * (row_bytes // self.header.dtype.itemsize))
            yield start, block.reshape((count, *self.header.row_shape))
            start += count
