"""Read-only views of an archive's members, with the safety checks of api spec §7.5 item 1.

Two physical forms hold the same members: the zip file and an unpacked directory
(Ptychodus 1.7 extracts renamed archives into a temporary directory). Both are checked
*before* any member is read: no absolute paths, no ``..``, no symlinks or special
files, no duplicate names, bounded total size. Nothing here extracts anything; members
are only streamed to callers that hash or decode them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from ptychopinn_plugin.archive.layout import MAX_MEMBERS

logger = logging.getLogger(__name__)

NOT_AN_ARCHIVE = "not a ptychopinn model archive"
_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe(label: str, member: str, reason: str) -> ValueError:
    return ValueError(f"unsafe archive member {member!r} in {label}: {reason}")


def check_member_name(label: str, name: str) -> None:
    """Refuse names that could leave a destination directory or are ambiguous."""
    if not name or "\x00" in name:
        raise unsafe(label, name, "empty name or NUL character")
    if name.startswith("/") or _DRIVE.match(name):
        raise unsafe(label, name, "absolute path")
    if "\\" in name:
        raise unsafe(label, name, "backslash in path (Windows separator)")
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        raise unsafe(label, name, "'..' path component")
    if any(part in ("", ".") for part in parts):
        raise unsafe(label, name, "empty or '.' path component")


class ZipSource:
    """Members of a zip file, validated on construction.

    ``max_total`` bounds the *declared* total uncompressed size; :mod:`zipfile` never
    returns more than the declared size of a member, so this also bounds what is read.
    """

    kind = "zip"

    def __init__(self, path: Path, *, max_total: int, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label or str(path)
        try:
            self._zip = zipfile.ZipFile(self.path, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, struct.error) as exc:
            raise ValueError(f"{NOT_AN_ARCHIVE}: {self.label} is not a readable zip file ({exc})") from None
        try:
            self._files = self._validate(max_total)
        except BaseException:
            self._zip.close()
            raise

    def _validate(self, max_total: int) -> dict[str, zipfile.ZipInfo]:
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise unsafe(self.label, infos[MAX_MEMBERS].filename, f"more than {MAX_MEMBERS} members")
        files: dict[str, zipfile.ZipInfo] = {}
        seen: set[str] = set()
        total = 0
        for info in infos:
            name = info.filename
            if info.orig_filename != name and "\x00" in info.orig_filename:
                raise unsafe(self.label, info.orig_filename, "NUL character in name")
            check_member_name(self.label, name)
            if name in seen:
                raise unsafe(self.label, name, "duplicate member name")
            seen.add(name)
            file_type = stat.S_IFMT(info.external_attr >> 16)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise unsafe(self.label, name, "symbolic link")
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise unsafe(self.label, name, f"special file (mode {oct(file_type)})")
            if info.flag_bits & 0x1:
                raise unsafe(self.label, name, "encrypted member")
            total += info.file_size
            if total > max_total:
                raise unsafe(
                    self.label, name,
                    f"declared total uncompressed size {total} bytes exceeds the limit of {max_total} bytes",
                )
            is_dir = name.endswith("/")
            if is_dir != (file_type == stat.S_IFDIR) and file_type != 0:
                raise unsafe(self.label, name, "directory flag and name disagree")
            if is_dir:
                if info.file_size:
                    raise unsafe(self.label, name, "directory entry with data")
                continue
            files[name] = info
        return files

    def names(self) -> list[str]:
        """File members (pure directory entries carry no data and are left out)."""
        return list(self._files)

    def size(self, name: str) -> int:
        return self._files[name].file_size

    def open(self, name: str) -> BinaryIO:
        return self._zip.open(self._files[name], "r")

    def close(self) -> None:
        self._zip.close()


class DirectorySource:
    """Members of an unpacked archive directory, validated like zip members.

    Symlinks anywhere below ``root`` (files or directories) and special files are refused;
    files are later opened with ``O_NOFOLLOW`` and re-checked to lie inside ``root``.
    """

    kind = "directory"

    def __init__(self, root: Path, *, max_total: int) -> None:
        self.root = Path(root)
        self.label = str(root)
        self._real_root = os.path.realpath(self.root)
        self._files = self._scan(max_total)

    def _scan(self, max_total: int) -> dict[str, int]:
        files: dict[str, int] = {}
        total = 0
        count = 0
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            rel_dir = os.path.relpath(dirpath, self.root)
            for entry in sorted(dirnames) + sorted(filenames):
                rel = entry if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{entry}"
                check_member_name(self.label, rel)
                st = os.lstat(os.path.join(dirpath, entry))
                if stat.S_ISLNK(st.st_mode):
                    raise unsafe(self.label, rel, "symbolic link")
                if stat.S_ISDIR(st.st_mode):
                    continue
                if not stat.S_ISREG(st.st_mode):
                    raise unsafe(self.label, rel, f"special file (mode {oct(stat.S_IFMT(st.st_mode))})")
                count += 1
                if count > MAX_MEMBERS:
                    raise unsafe(self.label, rel, f"more than {MAX_MEMBERS} members")
                total += st.st_size
                if total > max_total:
                    raise unsafe(
                        self.label, rel,
                        f"total size {total} bytes exceeds the limit of {max_total} bytes",
                    )
                files[rel] = st.st_size
        return files

    def names(self) -> list[str]:
        return list(self._files)

    def size(self, name: str) -> int:
        return self._files[name]

    def open(self, name: str) -> BinaryIO:
        if name not in self._files:
            raise KeyError(name)
        path = os.path.join(self.root, *name.split("/"))
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            raise unsafe(self.label, name, f"cannot be opened safely ({exc})") from None
        handle = os.fdopen(fd, "rb")
        real = os.path.realpath(path)
        if not stat.S_ISREG(os.fstat(fd).st_mode) or os.path.commonpath([real, self._real_root]) != self._real_root:
            handle.close()
            raise unsafe(self.label, name, "changed into a link or special file, or escapes the directory")
        return handle

    def close(self) -> None:
        pass


def read_limited(source: ZipSource | DirectorySource, name: str, limit: int) -> bytes:
    """The bytes of a small member (JSON, probe), refusing members larger than ``limit``."""
    size = source.size(name)
    if size > limit:
        raise ValueError(f"archive member '{name}' in {source.label} is {size} bytes; limit is {limit} bytes")
    buffer = io.BytesIO()
    copy_member(source, name, buffer)
    return buffer.getvalue()


def copy_member(source: ZipSource | DirectorySource, name: str, destination: BinaryIO, hasher=None) -> int:
    """Stream ``name`` into ``destination`` (optionally updating ``hasher``); returns bytes copied.

    Decompression / CRC failures become ``ValueError`` naming the member."""
    copied = 0
    try:
        with source.open(name) as handle:
            while True:
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                if hasher is not None:
                    hasher.update(chunk)
                destination.write(chunk)
                copied += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"archive member '{name}' in {source.label} is corrupt or unreadable: {exc}") from None
    return copied


class _NullWriter(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        return len(b)


def sha256_member(source: ZipSource | DirectorySource, name: str) -> str:
    """Hex sha256 of a member's bytes."""
    hasher = hashlib.sha256()
    copy_member(source, name, _NullWriter(), hasher)
    return hasher.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a whole file, streamed."""
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()
