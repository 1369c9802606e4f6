"""Memory-mapped grouped dataset for training on more data than fits in RAM (data §4).

:func:`build_mmap_dataset` turns canonical NPZ files into a directory of
``tensordict.MemoryMappedTensor`` files — one per batch key of data §3.3 (``images``,
``rms_scaling_constant``, ``physics_scaling_constant``, ``coords_relative``,
``coords_offsets``, ``nn_indices``, ``experiment_id``) — plus ``manifest.json`` and one
``probe_<i>.npy`` per source (complex tensors are not memory-mapped; probes stay in
memory and are attached per batch when they differ).

Memory: the diffraction member is never loaded whole.  Its rows are streamed from the
zip (stored or deflated, :mod:`.npz_rows`) twice:

1. pass 1 computes the per-pattern energies ``e_m = Σ A²`` (float64) and validates the
   values; grouping uses only the coordinates (:func:`ptychopinn_plugin.data.group_indices`,
   exactly as ``RawData.generate_grouped_data``), and ``f = sqrt((N/2)² / mean e[nn])``
   (data §2.5) per source;
2. pass 2 streams the rows again, ``chunk_groups·C`` at a time, and writes each row into
   every ``images`` slot ``(b, c)`` whose group uses it (the groups are sorted by row
   once, so each block is a contiguous range of that order).

Peak memory is therefore one row block plus a few ``(B·C,)`` index arrays; the output is
file-backed (page cache, not anonymous memory).

Meaning (data §3.3): ``images`` hold the raw grouped amplitudes and
``rms_scaling_constant`` the source's ``f``, so ``images·rms_scaling_constant`` is the
in-memory container's ``X`` and ``images·rms·physics_scaling_constant`` the network
input ``s·X``.

Decisions where data §4 is silent:

* ``n_groups`` applies **per source file** (each file is grouped like
  ``RawData.from_file(p).generate_grouped_data(N, K, n_groups, seed=seed, …)``; None =
  one group per position); groups are stored source after source, and ``experiment_id``
  is the source's index in ``npz_paths``.
* ``chunk_groups`` and ``overwrite`` do not change the stored arrays, so they are not in
  the manifest and not part of the reuse match.
* Besides the §4 fields the manifest has ``arrays`` (file, dtype, shape of every
  memory-mapped key — the reader needs nothing else, no pickle) and ``experiments``
  (groups, first group, diffraction key, probe file per source).
* Supervised labels (``label_*``) are not stored: the builder has no model-type
  argument; memory-mapped training is PINN-only.
* A directory holding no manifest is never reused nor deleted (``ValueError``), unless
  it is empty.  Builds happen in a hidden sibling directory that is renamed into place
  only once complete, so an interrupted build leaves no half-written dataset behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import torch
from tensordict import MemoryMappedTensor, TensorDict

from ptychopinn_plugin.data.grouped import group_coordinates
from ptychopinn_plugin.data.grouping import group_indices
from ptychopinn_plugin.data.normalisation import factor_from_energies, pattern_energies
from ptychopinn_plugin.data.npz_dataset import read_dataset_header
from ptychopinn_plugin.data.npz_io import NpzReader
from ptychopinn_plugin.data.validation import DIFFRACTION_DOMAINS, canonical_probe, decide_domain
from ptychopinn_plugin.physics.intensity import intensity_scale as closed_form_scale
from ptychopinn_plugin.util.atomic import atomic_path, atomic_write_text

from .datamodule import BATCH_KEYS
from .npz_rows import NpzRowStream

logger = logging.getLogger(__name__)

__all__ = [
    "SCHEMA",
    "MANIFEST_NAME",
    "ARRAY_KEYS",
    "MATCH_FIELDS",
    "MmapDataset",
    "build_mmap_dataset",
    "read_manifest",
]

SCHEMA = "ptychopinn.mmap/1"
MANIFEST_NAME = "manifest.json"
ARRAY_KEYS = BATCH_KEYS
"""One memory-mapped file per key of the batch contract (data §3.3)."""
_DTYPES = {"float32": torch.float32, "int64": torch.int64}
_ARRAY_DTYPES = {
    "images": "float32",
    "rms_scaling_constant": "float32",
    "physics_scaling_constant": "float32",
    "coords_relative": "float32",
    "coords_offsets": "float32",
    "nn_indices": "int64",
    "experiment_id": "int64",
}
MATCH_FIELDS = (
    "schema", "N", "gridsize", "C", "K", "n_groups", "seed", "sequential_sampling", "enable_oversampling",
    "neighbor_pool_size", "nphotons", "diffraction_domain", "sources",
)
"""Manifest fields compared for reuse: every builder argument that changes the arrays."""


# ----------------------------------------------------------------------------- argument checks
def _int(name: str, value: Any, minimum: int, *, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(
            f"build_mmap_dataset: {name} = {value!r} is invalid; allowed: an integer >= {minimum}"
            + (" or None" if allow_none else "")
        )
    return int(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"build_mmap_dataset: {name} = {value!r} is invalid; allowed: True or False")
    return bool(value)


def _paths(npz_paths: Any) -> list[Path]:
    if isinstance(npz_paths, (str, os.PathLike)):
        npz_paths = [npz_paths]
    paths = [Path(p) for p in npz_paths]
    if not paths:
        raise ValueError("build_mmap_dataset: npz_paths is empty; give at least one NPZ dataset file")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"dataset file not found: {path}")
    return paths


def _source_record(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size_bytes": int(st.st_size), "mtime": float(st.st_mtime)}


# ----------------------------------------------------------------------------- per-source pass 1
@dataclasses.dataclass
class _Source:
    index: int
    path: Path
    key: str
    domain: str
    squeeze: bool
    nn: np.ndarray
    factor: np.float32
    nominal_relative: np.ndarray  # (B, C, 1, 2) float32
    offsets: np.ndarray  # (B, 1, 1, 2) float32
    probe: np.ndarray

    @property
    def groups(self) -> int:
        return int(self.nn.shape[0])


def _check_layout(shape: tuple[int, ...], m: int, n: int, path: Path, key: str) -> bool:
    """True when a trailing singleton axis must be squeezed; ValueError for anything else."""
    squeeze = len(shape) == 4 and shape[3] == 1
    core = shape[:3] if squeeze else shape
    if len(core) != 3:
        raise ValueError(f"{path}: {key!r} has shape {shape}; expected (M, N, N) with M = len(xcoords) = {m}")
    if core[0] != m and core[2] == m:
        raise ValueError(
            f"{path}: {key!r} has the legacy (N, N, M) layout {shape} (M = len(xcoords) = {m}); the memory-mapped "
            "builder streams rows and needs the canonical (M, N, N) layout. Canonicalise the file first, e.g. "
            "RawData.from_file(path).to_file(new_path)"
        )
    if core[0] != m:
        raise ValueError(f"{path}: {key!r} has shape {shape}; first axis must be M = len(xcoords) = {m}")
    if core[1] != core[2]:
        raise ValueError(f"{path}: {key!r} has non-square patterns {core[1]}×{core[2]} (shape {shape})")
    if core[1] != n:
        raise ValueError(f"{path}: {key!r} holds {core[1]}×{core[2]} patterns but N = {n} was requested")
    return squeeze


def _amplitude(block: np.ndarray, domain: str, squeeze: bool) -> np.ndarray:
    """float32 amplitude of one row block (data §1.4; integers go through float64)."""
    if squeeze:
        block = block[..., 0]
    if domain == "amplitude" and block.dtype == np.float32:
        return np.array(block, dtype=np.float32, copy=True)
    work = block.astype(np.float64)
    if domain == "intensity":
        np.maximum(work, 0.0, out=work)
        np.sqrt(work, out=work)
    return work.astype(np.float32)


def _rows_per_block(chunk_groups: int, c: int, n: int) -> int:
    return max(1, int(chunk_groups) * int(c))


def _first_pass(index: int, path: Path, *, N: int, gridsize: int, K: int, n_groups: Optional[int],
                seed: Optional[int], sequential_sampling: bool, enable_oversampling: bool,
                neighbor_pool_size: Optional[int], diffraction_domain: str, chunk_groups: int) -> _Source:
    source = str(path)
    with NpzReader(path) as reader:
        header = read_dataset_header(reader)
        raw_probe = reader.read("probeGuess")
    key, metadata = header.diffraction_key, header.metadata
    x, y, xs, ys = header.xcoords, header.ycoords, header.xcoords_start, header.ycoords_start
    m = int(x.shape[0])
    energies = np.empty(m, dtype=np.float64)
    non_finite = negative = 0
    with NpzRowStream(path, key) as stream:
        squeeze = _check_layout(stream.header.shape, m, N, path, key)
        if stream.header.dtype.kind not in "iuf":
            raise ValueError(f"{source}: {key} must hold real numbers (amplitude or counts); got dtype {stream.header.dtype}")
        probe = canonical_probe(raw_probe, N, source=source)
        domain = decide_domain(stream.header.dtype, diffraction_domain, metadata, source=source)
        for start, block in stream.iter_rows(_rows_per_block(chunk_groups, gridsize**2, N)):
            amp = _amplitude(block, domain, squeeze)
            finite = np.isfinite(amp)
            non_finite += int(amp.size - np.count_nonzero(finite))
            negative += int(np.count_nonzero(amp < 0))
            energies[start:start + amp.shape[0]] = pattern_energies(amp)
    if non_finite or negative:
        raise ValueError(
            f"{source}: {key} amplitude has {non_finite} NaN/Inf pixel(s) and {negative} negative pixel(s) "
            f"({non_finite + negative} offending); amplitudes must be finite and >= 0"
        )
    nn = group_indices(
        x, y, gridsize=gridsize, K=K, nsamples=n_groups, seed=seed, sequential_sampling=sequential_sampling,
        enable_oversampling=enable_oversampling, neighbor_pool_size=neighbor_pool_size,
    )
    factor = factor_from_energies(energies, nn, N)
    _, offsets, _ = group_coordinates(x, y, nn)
    _, _, nominal = group_coordinates(xs, ys, nn)
    logger.info("%s: %d patterns → %d groups of %d (key %r, %s domain), f = %.6g",
                source, m, nn.shape[0], nn.shape[1], key, domain, float(factor))
    return _Source(
        index=index, path=path, key=key, domain=domain, squeeze=squeeze, nn=nn.astype(np.int64), factor=factor,
        nominal_relative=np.ascontiguousarray(nominal.transpose(0, 3, 1, 2), dtype=np.float32),
        offsets=np.ascontiguousarray(offsets.transpose(0, 3, 1, 2), dtype=np.float32),
        probe=probe,
    )


# ----------------------------------------------------------------------------- pass 2
def _array_specs(total: int, c: int, n: int) -> dict[str, tuple[int, ...]]:
    return {
        "images": (total, c, n, n),
        "rms_scaling_constant": (total, 1, 1, 1),
        "physics_scaling_constant": (total, 1, 1, 1),
        "coords_relative": (total, c, 1, 2),
        "coords_offsets": (total, 1, 1, 2),
        "nn_indices": (total, c),
        "experiment_id": (total,),
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_arrays(staging: Path, sources: list[_Source], *, N: int, c: int, scale: float,
                  chunk_groups: int) -> dict[str, dict[str, Any]]:
    total = sum(s.groups for s in sources)
    specs = _array_specs(total, c, N)
    files = {key: staging / f"{key}.memmap" for key in ARRAY_KEYS}
    tensors = {key: MemoryMappedTensor.empty(specs[key], dtype=_DTYPES[_ARRAY_DTYPES[key]], filename=files[key])
               for key in ARRAY_KEYS}
    arrays = {key: tensor.numpy() for key, tensor in tensors.items()}
    s32 = np.float32(scale)
    first = 0
    for src in sources:
        b = src.groups
        for lo in range(0, b, chunk_groups):
            hi = min(b, lo + chunk_groups)
            g = slice(first + lo, first + hi)
            arrays["rms_scaling_constant"][g] = src.factor
            arrays["physics_scaling_constant"][g] = s32
            arrays["coords_relative"][g] = src.nominal_relative[lo:hi]
            arrays["coords_offsets"][g] = src.offsets[lo:hi]
            arrays["nn_indices"][g] = src.nn[lo:hi]
            arrays["experiment_id"][g] = src.index
        _scatter_images(src, arrays["images"], first, c=c, N=N, chunk_groups=chunk_groups)
        first += b
    del arrays, tensors
    for path in files.values():
        _fsync(path)
    return {key: {"file": files[key].name, "dtype": _ARRAY_DTYPES[key], "shape": list(specs[key])}
            for key in ARRAY_KEYS}


def _scatter_images(src: _Source, images: np.ndarray, first_group: int, *, c: int, N: int, chunk_groups: int) -> None:
    """Pass 2: stream the source's rows once; write each into every slot that uses it."""
    flat_rows = src.nn.reshape(-1)
    order = np.argsort(flat_rows, kind="stable")  # local slot b·C + c, sorted by source row
    rows_sorted = flat_rows[order]
    out = images.reshape(-1, N, N)
    base = first_group * c
    written = 0
    with NpzRowStream(src.path, src.key) as stream:
        for start, block in stream.iter_rows(_rows_per_block(chunk_groups, c, N)):
            stop = start + block.shape[0]
            lo, hi = np.searchsorted(rows_sorted, [start, stop])
            if hi == lo:
                continue
            amp = _amplitude(block, src.domain, src.squeeze)
            slots = order[lo:hi]
            by_slot = np.argsort(slots, kind="stable")  # ascending writes: friendlier to the page cache
            out[base + slots[by_slot]] = amp[rows_sorted[lo:hi][by_slot] - start]
            written += int(hi - lo)
    if written != flat_rows.size:  # pragma: no cover - guarded by the layout check
        raise RuntimeError(f"{src.path}: wrote {written} of {flat_rows.size} grouped patterns")


# ----------------------------------------------------------------------------- manifest / reuse
def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated ``manifest.json`` of a memory-mapped dataset directory."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a memory-mapped dataset: {MANIFEST_NAME} not found")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete the directory and rebuild it") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        found = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{path}: schema {found!r} is not {SCHEMA!r}; delete the directory and rebuild it")
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or set(arrays) != set(ARRAY_KEYS):
        raise ValueError(f"{path}: 'arrays' must describe exactly {list(ARRAY_KEYS)}; delete the directory and rebuild it")
    for key, spec in arrays.items():
        if (not isinstance(spec, dict) or spec.get("dtype") != _ARRAY_DTYPES[key]
                or not isinstance(spec.get("shape"), list) or spec.get("file") != f"{key}.memmap"):
            raise ValueError(f"{path}: invalid 'arrays' entry for {key!r}: {spec!r}")
    return manifest


def _mismatches(manifest: dict[str, Any], request: dict[str, Any]) -> list[str]:
    return [f"{field}: stored {manifest.get(field)!r}, requested {request[field]!r}"
            for field in MATCH_FIELDS if manifest.get(field) != request[field]]


def _check_complete(directory: Path, manifest: dict[str, Any]) -> None:
    for key, spec in manifest["arrays"].items():
        path = directory / spec["file"]
        expected = int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize
        if not path.is_file() or path.stat().st_size != expected:
            raise ValueError(
                f"memory-mapped dataset {directory} is incomplete: {spec['file']} is missing or not {expected} bytes; "
                "delete the directory and rebuild it (or pass overwrite=True)"
            )


def build_mmap_dataset(
    npz_paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    N: int,
    gridsize: int,
    K: int,
    n_groups: Optional[int],
    seed: Optional[int],
    sequential_sampling: bool,
    enable_oversampling: bool,
    neighbor_pool_size: Optional[int],
    nphotons: float,
    diffraction_domain: str = "amplitude",
    chunk_groups: int = 1024,
    overwrite: bool = False,
) -> "MmapDataset":
    """Build (or reuse) the memory-mapped dataset of ``npz_paths`` in ``out_dir`` (data §4).

    Reuse: an existing ``out_dir`` whose manifest matches the request exactly (every
    :data:`MATCH_FIELDS` entry, incl. each source's resolved path, size and mtime) is
    returned as is.  A mismatch raises ``ValueError`` listing the differences and telling
    to delete the directory or pass ``overwrite=True`` (which rebuilds it).  A non-empty
    directory without a manifest is never reused or deleted (``ValueError``).
    Returns the opened :class:`MmapDataset`.
    """
    paths = _paths(npz_paths)
    N = _int("N", N, 2)
    if N % 2:
        raise ValueError(f"build_mmap_dataset: N = {N} is invalid; allowed: an even integer (64, 128 or 256 for a model)")
    gridsize = _int("gridsize", gridsize, 1)
    K = _int("K", K, 1)
    n_groups = _int("n_groups", n_groups, 1, allow_none=True)
    if seed is not None:
        _int("seed", seed, 0)
        seed = int(seed)
    sequential_sampling = _bool("sequential_sampling", sequential_sampling)
    enable_oversampling = _bool("enable_oversampling", enable_oversampling)
    neighbor_pool_size = _int("neighbor_pool_size", neighbor_pool_size, 1, allow_none=True)
    if isinstance(nphotons, bool) or not isinstance(nphotons, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(nphotons)) or float(nphotons) <= 0:
        raise ValueError(f"build_mmap_dataset: nphotons = {nphotons!r} is invalid; allowed: a finite number > 0")
    nphotons = float(nphotons)
    if diffraction_domain not in DIFFRACTION_DOMAINS:
        raise ValueError(
            f"build_mmap_dataset: diffraction_domain = {diffraction_domain!r} is invalid; allowed: {DIFFRACTION_DOMAINS}"
        )
    chunk_groups = _int("chunk_groups", chunk_groups, 1)
    overwrite = _bool("overwrite", overwrite)
    c = gridsize * gridsize
    request: dict[str, Any] = {
        "schema": SCHEMA, "N": N, "gridsize": gridsize, "C": c, "K": K, "n_groups": n_groups, "seed": seed,
        "sequential_sampling": sequential_sampling, "enable_oversampling": enable_oversampling,
        "neighbor_pool_size": neighbor_pool_size, "nphotons": nphotons, "diffraction_domain": diffraction_domain,
        "sources": [_source_record(p) for p in paths],
    }

    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"build_mmap_dataset: out_dir {out_dir} exists and is not a directory")
        if (out_dir / MANIFEST_NAME).is_file():
            try:
                manifest = read_manifest(out_dir)
                problems = _mismatches(manifest, request)
            except ValueError as exc:
                manifest, problems = None, [str(exc)]
            if not problems:
                _check_complete(out_dir, manifest)
                logger.info("reusing the memory-mapped dataset %s (manifest matches)", out_dir)
                return MmapDataset(out_dir)
            if not overwrite:
                raise ValueError(
                    f"memory-mapped dataset {out_dir} was built with other settings or sources ("
                    + "; ".join(problems)
                    + "). Delete the directory and rebuild it, or pass overwrite=True to rebuild it in place."
                )
            logger.warning("rebuilding the memory-mapped dataset %s (overwrite=True): %s", out_dir, "; ".join(problems))
        elif any(out_dir.iterdir()):
            raise ValueError(
                f"build_mmap_dataset: {out_dir} exists, is not empty and has no {MANIFEST_NAME}: it is not a "
                "memory-mapped dataset and is never reused or deleted; choose another out_dir or empty it"
            )

    t0 = time.perf_counter()
    sources = [
        _first_pass(i, p, N=N, gridsize=gridsize, K=K, n_groups=n_groups, seed=seed,
                    sequential_sampling=sequential_sampling, enable_oversampling=enable_oversampling,
                    neighbor_pool_size=neighbor_pool_size, diffraction_domain=diffraction_domain,
                    chunk_groups=chunk_groups)
        for i, p in enumerate(paths)
    ]
    scale = closed_form_scale(nphotons, N)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        arrays = _write_arrays(staging, sources, N=N, c=c, scale=scale, chunk_groups=chunk_groups)
        experiments = []
        first = 0
        for src in sources:
            probe_file = f"probe_{src.index}.npy"
            with atomic_path(staging / probe_file, suffix=".npy") as tmp:
                np.save(tmp, src.probe, allow_pickle=False)
            experiments.append({"source": src.index, "groups": src.groups, "first_group": first,
                                "diffraction_key": src.key, "probe_file": probe_file})
            first += src.groups
        manifest = dict(request)
        manifest.update({
            "rms_scaling_constant": [float(src.factor) for src in sources],
            "intensity_scale": float(scale),
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "arrays": arrays,
            "experiments": experiments,
        })
        atomic_write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=1, allow_nan=False) + "\n")
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("built the memory-mapped dataset %s: %d groups from %d file(s) in %.1f s",
                out_dir, first, len(sources), time.perf_counter() - t0)
    return MmapDataset(out_dir)


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished staging directory onto ``out_dir`` (old dataset removed after)."""
    old: Optional[Path] = None
    if out_dir.exists():
        if any(out_dir.iterdir()):
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}")
            os.rename(out_dir, old)
        else:
            out_dir.rmdir()
    os.rename(staging, out_dir)
    fd = os.open(out_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- reader
class MmapDataset:
    """Read access to a built dataset directory: manifest, probes and batch gathering.

    Memory maps are opened lazily and are not pickled (a DataLoader worker or a spawned
    DDP process reopens them from the directory), so the object is cheap to send.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        _check_complete(self.directory, self.manifest)
        self._arrays: Optional[dict[str, torch.Tensor]] = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    # ------------------------------------------------------------------ metadata
    @property
    def N(self) -> int:  # noqa: N802 - spec name
        return int(self.manifest["N"])

    @property
    def gridsize(self) -> int:
        return int(self.manifest["gridsize"])

    @property
    def channels(self) -> int:
        return int(self.manifest["C"])

    @property
    def intensity_scale(self) -> float:
        return float(self.manifest["intensity_scale"])

    @property
    def rms_scaling_constants(self) -> list[float]:
        return [float(v) for v in self.manifest["rms_scaling_constant"]]

    def __len__(self) -> int:
        return int(self.manifest["arrays"]["images"]["shape"][0])

    def probes(self) -> list[np.ndarray]:
        """Raw (un-normalised) probe of every source, complex64 ``(N, N)``."""
        out = []
        for exp in self.manifest["experiments"]:
            probe = np.load(self.directory / exp["probe_file"], allow_pickle=False)
            out.append(canonical_probe(probe, self.N, source=str(self.directory / exp["probe_file"])))
        return out

    def check_compatible(self, training_config: Any) -> None:
        """``ValueError`` unless ``N``, ``gridsize`` and ``nphotons`` match the training config."""
        model = training_config.model
        if int(model.N) != self.N or int(model.gridsize) != self.gridsize:
            raise ValueError(
                f"memory-mapped dataset {self.directory} holds N = {self.N}, gridsize = {self.gridsize} groups but "
                f"the model is N = {model.N}, gridsize = {model.gridsize}; rebuild the dataset for this model"
            )
        if not math.isclose(float(training_config.nphotons), float(self.manifest["nphotons"]), rel_tol=1e-12):
            raise ValueError(
                f"memory-mapped dataset {self.directory} was built with nphotons = {self.manifest['nphotons']} "
                f"(its physics_scaling_constant) but TrainingConfig.nphotons = {training_config.nphotons}; "
                "use the same value or rebuild the dataset"
            )

    # ------------------------------------------------------------------ data
    def arrays(self) -> dict[str, torch.Tensor]:
        """Every key as a read-only ``MemoryMappedTensor`` (opened on first use)."""
        if self._arrays is None:
            opened = {}
            for key, spec in self.manifest["arrays"].items():
                opened[key] = MemoryMappedTensor.from_filename(
                    self.directory / spec["file"], dtype=_DTYPES[spec["dtype"]], shape=torch.Size(spec["shape"]),
                    mode="r",
                )
            self._arrays = opened
        return self._arrays

    def batch(self, rows: Iterable[int] | np.ndarray) -> TensorDict:
        """The TensorDict batch (data §3.3) of groups ``rows`` (in that order)."""
        index = torch.as_tensor(np.asarray(rows, dtype=np.int64).reshape(-1))
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= len(self)):
            raise IndexError(f"group rows out of range [0, {len(self)}): {int(index.min())}..{int(index.max())}")
        data = {key: tensor[index] for key, tensor in self.arrays().items()}
        return TensorDict(data, batch_size=[int(index.numel())])
