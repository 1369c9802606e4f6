"""Memory-mapped dataset (data §4): streaming builder, manifest reuse rules, batches, training."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.datamodule import PtychoDataModule
from ptychopinn_plugin.backends.torch.losses import batch_scale
from ptychopinn_plugin.backends.torch.mmap_datamodule import MmapDataModule
from ptychopinn_plugin.backends.torch.mmap_dataset import SCHEMA, MmapDataset, build_mmap_dataset
from ptychopinn_plugin.backends.torch.npz_rows import NpzRowStream
from ptychopinn_plugin.backends.torch.training import train_models_mmap
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig
from ptychopinn_plugin.data.container import PtychoDataContainer
from ptychopinn_plugin.data.normalisation import normalisation_factor
from ptychopinn_plugin.data.raw_data import RawData
from ptychopinn_plugin.physics.intensity import intensity_scale
from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset

NPHOTONS = 1e6
GROUPING = dict(K=4, seed=3, sequential_sampling=False, enable_oversampling=False, neighbor_pool_size=None)


def _write(tmp_path: Path, name: str, *, seed: int = 0, n: int = 40, compressed: bool = False, **changes) -> Path:
    arrays = simulate_dataset(SimulationConfig(N=64, object_size=150, n_positions=n, seed=seed)).npz_arrays()
    arrays.update(changes)
    path = tmp_path / name
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def _build(paths, out, *, gridsize=2, n_groups=30, chunk_groups=4, **kwargs):
    return build_mmap_dataset(paths, out, N=64, gridsize=gridsize, n_groups=n_groups, nphotons=NPHOTONS,
                              chunk_groups=chunk_groups, **{**GROUPING, **kwargs})


def _in_memory(path: Path, gridsize=2, n_groups=30):
    raw = RawData.from_file(path)
    grouped = raw.generate_grouped_data(64, K=4, nsamples=n_groups, seed=3, gridsize=gridsize)
    return grouped, PtychoDataContainer.from_grouped(grouped, raw.probeGuess, NPHOTONS)


def test_row_stream_reads_stored_and_deflated_members_in_blocks(tmp_path):
    data = np.arange(7 * 3 * 3, dtype=np.float64).reshape(7, 3, 3)
    for name, saver, kind in (("s.npz", np.savez, zipfile.ZIP_STORED), ("d.npz", np.savez_compressed, zipfile.ZIP_DEFLATED)):
        saver(tmp_path / name, diffraction=data)
        with zipfile.ZipFile(tmp_path / name) as zf:
            assert zf.getinfo("diffraction.npy").compress_type == kind
        with NpzRowStream(tmp_path / name, "diffraction") as stream:
            assert stream.header.shape == (7, 3, 3) and stream.header.compressed == (kind == zipfile.ZIP_DEFLATED)
            blocks = [(start, block.copy()) for start, block in stream.iter_rows(3)]
        assert [start for start, _ in blocks] == [0, 3, 6] and [b.shape[0] for _, b in blocks] == [3, 3, 1]
        np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), data)


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_chunked_build_equals_the_in_memory_grouping(tmp_path, compressed):
    path = _write(tmp_path, "scan.npz", compressed=compressed)
    ds = _build([path], tmp_path / "mm")
    grouped, container = _in_memory(path)
    arrays = {k: v.numpy() for k, v in ds.arrays().items()}
    assert isinstance(ds, MmapDataset) and len(ds) == 30
    assert arrays["images"].shape == (30, 4, 64, 64) and arrays["images"].dtype == np.float32
    reopened = MmapDataset(tmp_path / "mm")  # a fresh reader sees the same data
    assert torch.equal(reopened.batch([7, 2])["images"], ds.batch([7, 2])["images"])
    np.testing.assert_array_equal(arrays["nn_indices"], grouped["nn_indices"])
    # images = raw grouped amplitudes, channel-first (pass 2 scattered rows across 8 row blocks)
    np.testing.assert_array_equal(arrays["images"], grouped["diffraction"].transpose(0, 3, 1, 2))
    f = normalisation_factor(grouped["diffraction"], 64)
    assert ds.rms_scaling_constants[0] == pytest.approx(float(f), rel=1e-6)
    assert np.all(arrays["rms_scaling_constant"] == np.float32(ds.rms_scaling_constants[0]))
    assert np.all(arrays["physics_scaling_constant"] == np.float32(intensity_scale(NPHOTONS, 64)))
    np.testing.assert_array_equal(arrays["coords_relative"], container.coords_nominal.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(arrays["coords_offsets"], container.global_offsets.transpose(0, 3, 1, 2).astype(np.float32))
    assert np.all(arrays["experiment_id"] == 0)
    manifest = json.loads((tmp_path / "mm" / "manifest.json").read_text())
    assert manifest["schema"] == SCHEMA == "ptychopinn.mmap/1"
    expected = {"N": 64, "gridsize": 2, "C": 4, "K": 4, "n_groups": 30, "seed": 3, "sequential_sampling": False,
                "enable_oversampling": False, "neighbor_pool_size": None, "nphotons": NPHOTONS,
                "diffraction_domain": "amplitude"}
    assert {k: manifest[k] for k in expected} == expected
    assert manifest["sources"] == [{"path": str(path.resolve()), "size_bytes": path.stat().st_size,
                                    "mtime": path.stat().st_mtime}]
    assert manifest["intensity_scale"] == pytest.approx(intensity_scale(NPHOTONS, 64))
    assert manifest["created_utc"].endswith("Z") and len(manifest["rms_scaling_constant"]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mm")]  # staging renamed away


def test_batches_give_the_in_memory_network_input(tmp_path):
    path = _write(tmp_path, "scan.npz")
    ds = _build([path], tmp_path / "mm")
    _, container = _in_memory(path)
    s = intensity_scale(NPHOTONS, 64)
    mm = MmapDataModule(ds, batch_size=8, seed=0)
    mem = PtychoDataModule(container, batch_size=8, intensity_scale=s, seed=0)
    assert len(mm.train_set) == len(mem.train_set) == 28 and len(mm.val_set) == 2  # last 5 % validate
    positions = [5, 0, 27, 13]
    a, b = mm.train_set[positions], mem.train_set[positions]
    assert set(a.keys()) == set(b.keys())
    assert torch.all(b["rms_scaling_constant"] == 1) and not torch.all(a["rms_scaling_constant"] == 1)
    torch.testing.assert_close(a["images"] * batch_scale(a), b["images"] * batch_scale(b), rtol=1e-6, atol=0)
    for key in ("coords_relative", "coords_offsets", "nn_indices", "experiment_id", "physics_scaling_constant"):
        assert torch.equal(a[key], b[key]), key
    for key in ("images", "rms_scaling_constant", "physics_scaling_constant"):
        assert a[key].shape[1:] == b[key].shape[1:] and a[key].dtype == torch.float32
    val = mm.val_set[[0, 1]]
    assert torch.equal(val["nn_indices"], torch.from_numpy(container.nn_indices[28:30]))
    # a DataLoader worker process reopens the memory maps from the directory
    workers = MmapDataModule(ds, batch_size=8, seed=0, num_workers=1, prefetch_factor=2, persistent_workers=True)
    seen = torch.cat([batch["nn_indices"] for batch in workers.train_dataloader()])
    assert sorted(seen[:, 0].tolist()) == sorted(container.nn_indices[:28, 0].tolist())


def test_reuse_mismatch_overwrite_and_foreign_directories(tmp_path, caplog):
    path = _write(tmp_path, "scan.npz")
    out = tmp_path / "mm"
    first = _build([path], out)
    nn_first = first.arrays()["nn_indices"].numpy().copy()
    stamp = (out / "images.memmap").stat().st_mtime_ns
    again = _build([path], out, chunk_groups=1024)  # chunking does not change the arrays: reused
    assert (out / "images.memmap").stat().st_mtime_ns == stamp and len(again) == len(first)

    with pytest.raises(ValueError, match=r"seed: stored 3, requested 4.*overwrite=True"):
        _build([path], out, seed=4)
    rebuilt = _build([path], out, seed=4, overwrite=True)
    assert rebuilt.manifest["seed"] == 4
    assert not np.array_equal(rebuilt.arrays()["nn_indices"].numpy(), nn_first)

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # the source changed
    with pytest.raises(ValueError, match="sources: stored"):
        _build([path], out, seed=4)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="no manifest.json"):
            _build([path], foreign, overwrite=overwrite)
    assert (foreign / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert len(_build([path], empty)) == 30


def test_bad_inputs_are_rejected_with_clear_messages(tmp_path):
    good = simulate_dataset(SimulationConfig(N=64, object_size=150, n_positions=40, seed=0)).npz_arrays()
    legacy = _write(tmp_path, "legacy.npz", diffraction=np.ascontiguousarray(good["diffraction"].transpose(1, 2, 0)))
    with pytest.raises(ValueError, match=r"legacy \(N, N, M\) layout.*Canonicalise"):
        _build([legacy], tmp_path / "a")
    with pytest.raises(ValueError, match="N = 128 was requested"):
        build_mmap_dataset([_write(tmp_path, "ok.npz")], tmp_path / "b", N=128, gridsize=1, n_groups=None,
                           nphotons=NPHOTONS, **GROUPING)
    bad = good["diffraction"].copy()
    bad[0, 0, :3] = -1.0
    with pytest.raises(ValueError, match="3 negative"):
        _build([_write(tmp_path, "neg.npz", diffraction=bad)], tmp_path / "c")
    with pytest.raises(ValueError, match="nphotons"):
        build_mmap_dataset([legacy], tmp_path / "d", N=64, gridsize=1, n_groups=None, nphotons=0.0, **GROUPING)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        _build([tmp_path / "missing.npz"], tmp_path / "e")
    assert not (tmp_path / "a").exists() and not [p for p in tmp_path.iterdir() if ".building-" in p.name]


def test_legacy_key_and_intensity_domain(tmp_path):
    arrays = simulate_dataset(SimulationConfig(N=64, object_size=150, n_positions=40, seed=0)).npz_arrays()
    counts = np.round(arrays.pop("diffraction").astype(np.float64) ** 2).astype(np.uint16)
    path = tmp_path / "counts.npz"
    np.savez(path, diff3d=counts, **{k: v for k, v in arrays.items() if k != "_metadata"})
    ds = build_mmap_dataset([path], tmp_path / "mm", N=64, gridsize=1, n_groups=None, nphotons=NPHOTONS,
                            diffraction_domain="intensity", **GROUPING)
    raw = RawData.from_file(path, diffraction_domain="intensity")
    np.testing.assert_array_equal(ds.arrays()["images"].numpy()[:, 0], raw.diff3d[ds.arrays()["nn_indices"].numpy()[:, 0]])
    assert ds.manifest["experiments"][0]["diffraction_key"] == "diff3d"


def test_two_sources_train_with_per_experiment_scales_and_probes(tmp_path):
    a = _write(tmp_path, "a.npz", seed=0)
    same = simulate_dataset(SimulationConfig(N=64, object_size=150, n_positions=40, seed=0)).npz_arrays()
    b = _write(tmp_path, "b.npz", seed=0, diffraction=same["diffraction"] * np.float32(3.0),
               probeGuess=(same["probeGuess"] * np.exp(0.3j)).astype(np.complex64))
    ds = _build([a, b], tmp_path / "mm", gridsize=1, n_groups=20)
    f_a, f_b = ds.rms_scaling_constants
    assert f_a / f_b == pytest.approx(3.0, rel=1e-6)  # same scan with amplitudes ×3 → f ÷3
    ids = ds.arrays()["experiment_id"].numpy()
    assert list(ids) == [0] * 20 + [1] * 20
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), nepochs=1, batch_size=8,
                         nphotons=NPHOTONS, seed=1, output_dir=tmp_path / "out", backend="pytorch")
    exe = PyTorchExecutionConfig(accelerator="cpu", enable_checkpointing=False, logger_backend="none")
    result = train_models_mmap(tmp_path / "mm", cfg, exe)
    assert result.epochs_run == 1 and np.isfinite(result.history["loss"][0]) and "val_loss" in result.history
    assert result.intensity_scale == pytest.approx(intensity_scale(NPHOTONS, 64))
    mm = MmapDataModule(ds, batch_size=4, probes=np.stack([np.full((64, 64), 1 + 0j), np.full((64, 64), 2 + 0j)]))
    batch = mm.train_set[[0, 25]]
    assert batch["probe"].shape == (2, 1, 64, 64) and batch["probe"].dtype == torch.complex64
    assert batch["probe"][0].real.unique().tolist() == [1.0] and batch["probe"][1].real.unique().tolist() == [2.0]
    with pytest.raises(ValueError, match="nphotons = 1000000.0"):
        train_models_mmap(tmp_path / "mm", TrainingConfig(model=cfg.model, nphotons=1e5), exe)
    with pytest.raises(ValueError, match="gridsize = 1 groups but the model is N = 64, gridsize = 2"):
        train_models_mmap(ds, TrainingConfig(model=ModelConfig(N=64, gridsize=2), nphotons=NPHOTONS), exe)
    with pytest.raises(ValueError, match="supervised"):
        train_models_mmap(ds, TrainingConfig(model=ModelConfig(N=64, gridsize=1, model_type="supervised"),
                                             nphotons=NPHOTONS), exe)
