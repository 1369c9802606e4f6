"""Low-level, pickle-free access to NPZ archives (data spec §1, §1.6, §1.8).

Why a module of its own: every reader in the project (``RawData.from_file``, the
memory-mapped builder of data §4, the Ptychodus exporter's tests) must open NPZ files
with ``allow_pickle=False`` and turn NumPy's terse "Object arrays cannot be loaded"
into an error that names the file and the key.  Member headers are read straight from
the zip so shapes and dtypes can be inspected without loading (or unpickling) data.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin.util.atomic import atomic_savez

logger = logging.getLogger(__name__)

METADATA_KEY = "_metadata"


@dataclass(frozen=True)
class NpyMemberInfo:
    """Header of one ``.npy`` member of an NPZ archive (nothing of the data is read)."""

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def is_object(self) -> bool:
        return self.dtype.hasobject


ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
"""First bytes of a zip archive (a file entry, or the end record of an empty archive)."""


def check_exists(path: str | os.PathLike[str]) -> Path:
    """The path of an existing, non-empty regular file, else an error naming it (data §1.7).

    A missing path → ``FileNotFoundError``; a directory → ``IsADirectoryError``; an empty
    file → ``ValueError`` — each saying that a dataset NPZ file was expected.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"dataset path {path} is a directory; expected an NPZ dataset file")
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"dataset file {path} is empty (0 bytes); expected an NPZ dataset file")
    return path


def check_zip_signature(path: Path) -> None:
    """``ValueError`` naming the file when it does not start like a zip (NPZ) archive.

    Without it, NumPy reads a text file renamed ``.npz`` as a pickle and reports "pickled
    data", which misleads: the file is simply not an NPZ archive.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head not in ZIP_SIGNATURES:
        kind = "a single .npy array" if head.startswith(b"\x93NUM") else (
            "text" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "not a zip archive")
        raise ValueError(f"{path} is not an NPZ archive (it starts with {head!r}: {kind}); expected a zip archive "
                         "of .npy arrays as written by numpy.savez, with keys such as 'diffraction', 'xcoords', "
                         "'ycoords', 'probeGuess'")


def npz_member_infos(path: str | os.PathLike[str]) -> dict[str, NpyMemberInfo]:
    """Headers of every ``.npy`` member, keyed by the NPZ key (member name minus ``.npy``).

    Works for stored and deflated members.  Members whose header cannot be parsed (an
    unknown ``.npy`` format version) are left out; callers then fall back to loading.
    """
    path = check_exists(path)
    infos: dict[str, NpyMemberInfo] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.endswith(".npy"):
                    continue
                key = name[: -len(".npy")]
                with archive.open(name) as handle:
                    info = _read_header(handle, key)
                if info is not None:
                    infos[key] = info
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not an NPZ archive (zip): {exc}") from exc
    return infos


def npz_member_info(path: str | os.PathLike[str], key: str) -> NpyMemberInfo:
    """Header of one member; ``KeyError`` naming key and path when it is absent."""
    infos = npz_member_infos(path)
    if key not in infos:
        raise KeyError(f"{path} has no readable member {key!r}")
    return infos[key]


def _read_header(handle: Any, key: str) -> NpyMemberInfo | None:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            reader = getattr(np.lib.format, "_read_array_header", None)
            if reader is None:
                return None
            shape, fortran, dtype = reader(handle, version)
    except (ValueError, OSError) as exc:
        logger.debug("could not parse the .npy header of %r: %s", key, exc)
        return None
    return NpyMemberInfo(key=key, shape=tuple(int(s) for s in shape), dtype=np.dtype(dtype),
                         fortran_order=bool(fortran))


def open_npz(path: str | os.PathLike[str]) -> np.lib.npyio.NpzFile:
    """``np.load(path, allow_pickle=False)`` of an NPZ archive; every failure is a
    ``ValueError`` (``FileNotFoundError``/``IsADirectoryError`` for the path itself) that
    names the file and says what was expected.  Close the result (a context manager)."""
    path = check_exists(path)
    check_zip_signature(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable NPZ archive (loaded with allow_pickle=False): {exc}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path} is a single .npy array, not an NPZ dataset archive (expected keys such "
            "as 'diffraction', 'xcoords', 'ycoords', 'probeGuess')"
        )
    return loaded


class NpzReader:
    """Open an NPZ archive with ``allow_pickle=False`` and read members with clear errors.

    Use as a context manager.  ``read(key)`` raises ``ValueError`` mentioning the key and
    "refusing to unpickle" for object arrays; ``read_metadata()`` skips an object-array
    ``_metadata`` with a WARNING instead (legacy files, finding DATA-002).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = check_exists(path)
        self._npz = open_npz(self.path)
        self.keys: tuple[str, ...] = tuple(self._npz.files)
        self.infos: dict[str, NpyMemberInfo] = npz_member_infos(self.path)

    def __enter__(self) -> "NpzReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._npz.close()

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def shape(self, key: str) -> tuple[int, ...] | None:
        """Shape from the member header without loading it (None if unknown)."""
        info = self.infos.get(key)
        return None if info is None else info.shape

    def is_object(self, key: str) -> bool:
        info = self.infos.get(key)
        return bool(info is not None and info.is_object)

    def read(self, key: str) -> np.ndarray:
        """Load one member; object arrays are refused without being unpickled."""
        if self.is_object(key):
            raise _refuse(self.path, key)
        try:
            return self._npz[key]
        except ValueError as exc:
            if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                raise _refuse(self.path, key) from exc
            raise

    def read_metadata(self) -> dict[str, Any] | None:
        """Parse ``_metadata`` (data §1.6): 0-d unicode JSON; object arrays skipped."""
        if METADATA_KEY not in self.keys:
            return None
        try:
            raw = self.read(METADATA_KEY)
        except ValueError as exc:
            if "refusing to unpickle" not in str(exc):
                raise
            logger.warning(
                "%s: key %r is an object (pickled) array; skipping it without unpickling "
                "(legacy metadata, finding DATA-002). Convert the file to drop this warning.",
                self.path, METADATA_KEY,
            )
            return None
        return parse_metadata(raw, source=str(self.path))


def _refuse(path: Path, key: str) -> ValueError:
    return ValueError(
        f"{path}: key {key!r} is an object-dtype (pickled) array; refusing to unpickle it "
        "(np.load(allow_pickle=False)). Re-save the file with plain numeric arrays."
    )


def parse_metadata(raw: np.ndarray | str | bytes | None, *, source: str = "<memory>") -> dict[str, Any] | None:
    """Decode a stored ``_metadata`` value into a dict; malformed text → WARNING, None.

    Metadata are optional and informational, so a broken value must not stop a load.
    """
    if raw is None:
        return None
    value: Any = raw
    if isinstance(raw, np.ndarray):
        if raw.size != 1 or raw.dtype.kind not in "US":
            logger.warning("%s: %r is %s %s, expected a 0-d unicode JSON string; ignored",
                           source, METADATA_KEY, raw.dtype, raw.shape)
            return None
        value = raw.reshape(()).item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError) as exc:
        logger.warning("%s: %r is not valid JSON (%s); ignored", source, METADATA_KEY, exc)
        return None
    if not isinstance(parsed, dict):
        logger.warning("%s: %r holds JSON %s, expected an object; ignored", source, METADATA_KEY,
                       type(parsed).__name__)
        return None
    return parsed


def metadata_nphotons(metadata: Mapping[str, Any] | None) -> float | None:
    """``nphotons`` from metadata (top level, or nested ``physics_parameters.nphotons``)."""
    if not metadata:
        return None
    value = metadata.get("nphotons")
    if value is None:
        nested = metadata.get("physics_parameters")
        if isinstance(nested, Mapping):
            value = nested.get("nphotons")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        logger.warning("metadata nphotons %r is not a number; ignored", value)
        return None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def metadata_to_array(metadata: Mapping[str, Any]) -> np.ndarray:
    """Encode metadata as the 0-d unicode array of data §1.6 (never an object array)."""
    try:
        text = json.dumps(dict(metadata), default=_json_default, sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"cannot store {METADATA_KEY}: {exc}") from exc
    return np.array(text, dtype=np.str_)


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Uncompressed, atomic, pickle-free NPZ write (data §1.8)."""
    atomic_savez(path, **{key: np.asarray(value) for key, value in arrays.items()})
