"""Reading diffraction patterns that accompany a product (NPZ, ``.npy`` or HDF5 detector files).

Why separate from the product reader: a Ptychodus product holds no patterns, so converting
it to a training/inference dataset needs them from elsewhere — a canonical NPZ, a plain
array, or the HDF5 file a detector or Ptychodus wrote.  Nothing here interprets the
values (domain, layout and pairing are applied by :func:`product_to_raw_data`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptychopinn_plugin.data.npz_io import NpzReader, parse_metadata

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_DIFFRACTION_DATASETS", "DiffractionInput", "load_diffraction"]

DEFAULT_DIFFRACTION_DATASETS = ("diffraction", "raw_data/diffraction", "entry/data/data")
"""HDF5 dataset paths tried, in order, when :func:`load_diffraction` gets no ``dataset``."""


@dataclass(frozen=True)
class DiffractionInput:
    """Patterns read from a file, with what the file says about them."""

    patterns: np.ndarray
    """``(n, N, N)`` as stored (any real dtype; domain not yet applied)."""
    source: str
    """``path`` or ``path:/dataset`` for messages."""
    metadata: dict[str, Any] | None = None
    """``_metadata`` of an NPZ or of the HDF5 group holding the dataset (decides ``'auto'``)."""
    bad_pixels: np.ndarray | None = None
    """``bad_pixels`` mask stored next to the patterns, if any."""


def load_diffraction(path: str | os.PathLike[str], *, dataset: str | None = None) -> DiffractionInput:
    """Read diffraction patterns from a canonical NPZ, a ``.npy`` array or an HDF5 file.

    * ``.npz``: key ``dataset`` if given, else ``diffraction`` then legacy ``diff3d``
      (data §1.2); ``_metadata`` and ``bad_pixels`` are picked up.
    * ``.npy``: the array itself (``allow_pickle=False``).
    * HDF5 (any other suffix): the dataset at path ``dataset``, else the first of
      :data:`DEFAULT_DIFFRACTION_DATASETS` that exists (``/diffraction``,
      ``/raw_data/diffraction`` of our product extension, ``/entry/data/data`` of NeXus
      detector files).  A ``_metadata`` JSON string (dataset or attribute) and a
      ``bad_pixels`` dataset in the same group are picked up.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"diffraction file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        found = _load_npz_diffraction(path, dataset)
    elif suffix == ".npy":
        if dataset is not None:
            raise ValueError(f"{path}: a .npy file holds one array; dataset={dataset!r} does not apply")
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: not a plain numeric .npy array (refusing to unpickle): {exc}") from exc
        found = DiffractionInput(np.asarray(arr), str(path))
    else:
        found = _load_h5_diffraction(path, dataset)
    logger.info("read diffraction %s %s from %s", found.patterns.dtype, found.patterns.shape, found.source)
    return found


def _load_npz_diffraction(path: Path, dataset: str | None) -> DiffractionInput:
    from ptychopinn_plugin.data.npz_dataset import resolve_diffraction_key

    with NpzReader(path) as reader:
        if dataset is not None:
            if dataset not in reader:
                raise KeyError(f"{path} has no key {dataset!r}; keys present: {sorted(reader.keys)}")
            key = dataset
        else:
            key = resolve_diffraction_key(reader)
        patterns = reader.read(key)
        metadata = reader.read_metadata()
        mask = reader.read("bad_pixels") if "bad_pixels" in reader else None
    return DiffractionInput(patterns, f"{path}:{key}", metadata, mask)


def _load_h5_diffraction(path: Path, dataset: str | None) -> DiffractionInput:
    import h5py

    if not h5py.is_hdf5(path):
        raise ValueError(f"{path}: unsupported diffraction file (expected .npz, .npy or HDF5)")
    candidates = (dataset,) if dataset is not None else DEFAULT_DIFFRACTION_DATASETS
    with h5py.File(path, "r") as f:
        for name in candidates:
            node = f.get(name)
            if isinstance(node, h5py.Dataset):
                break
        else:
            found: list[str] = []
            f.visititems(lambda n, obj: found.append(n) if isinstance(obj, h5py.Dataset) and len(found) < 20 else None)
            raise KeyError(
                f"{path}: no diffraction dataset at {', '.join('/' + c for c in candidates)}; "
                f"datasets present: {found} (pass dataset=… / --dataset)"
            )
        where = f"{path}:{node.name}"
        if node.dtype.kind not in "iuf":
            raise ValueError(f"{where}: diffraction must hold real numbers; got dtype {node.dtype}")
        patterns = np.asarray(node[()])
        group = node.parent
        metadata = None
        if "_metadata" in group:
            meta_node = group["_metadata"]
            if isinstance(meta_node, h5py.Dataset) and meta_node.dtype.kind in "SOU" and meta_node.size == 1:
                metadata = parse_metadata(_scalar_text(meta_node[()]), source=where)
        elif "_metadata" in group.attrs:
            metadata = parse_metadata(_scalar_text(group.attrs["_metadata"]), source=where)
        mask = None
        mask_node = group.get("bad_pixels")
        if isinstance(mask_node, h5py.Dataset) and mask_node.dtype.kind in "biu":
            mask = np.asarray(mask_node[()])
    return DiffractionInput(patterns, where, metadata, mask)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (str, np.str_)):
        return str(value)
    return None
