"""The seed names of ptycho_torch (§4T.9): thin wrappers over our data layer and torch backend."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensordict")

pytestmark = pytest.mark.torch


def _dataset(path, key: str) -> None:
    rng = np.random.default_rng(0)
    m, n = 12, 64
    np.savez(path, **{key: rng.random((m, n, n)).astype(np.float32)}, xcoords=rng.uniform(40, 80, m),
             ycoords=rng.uniform(40, 80, m), probeGuess=np.ones((n, n), np.complex64),
             scan_index=np.zeros(m, int))


@pytest.mark.parametrize("key", ["diffraction", "diff3d"])
def test_npz_headers_resolves_the_canonical_key_then_the_legacy_one(tmp_path, key):
    from ptycho_torch.dataloader import npz_headers

    path = tmp_path / "scan.npz"
    _dataset(path, key)
    headers = npz_headers(path)
    assert headers.diffraction_key == key
    assert headers.diffraction_shape == (12, 64, 64) and headers.diffraction_dtype == np.float32
    assert headers.members["xcoords"][0] == (12,)


def test_npz_headers_names_both_keys_and_the_file(tmp_path):
    from ptycho_torch.dataloader import npz_headers

    path = tmp_path / "nodiff.npz"
    np.savez(path, xcoords=np.zeros(3))
    with pytest.raises(KeyError, match="'diffraction'.*'diff3d'.*nodiff.npz|nodiff.npz.*'diffraction'.*'diff3d'"):
        npz_headers(path)


def test_memory_map_data_builds_a_tensordict_dataset_from_the_legacy_key(tmp_path):
    from ptycho_torch.dataloader import MmapDataModule, memory_map_data

    path = tmp_path / "scan.npz"
    _dataset(path, "diff3d")
    dataset = memory_map_data(path, tmp_path / "mmap", N=64, gridsize=1, K=4, nphotons=1e6)
    assert len(dataset) == 12
    module = MmapDataModule(dataset, batch_size=4, validation=False)
    batch = next(iter(module.train_dataloader()))
    assert tuple(batch["images"].shape) == (4, 1, 64, 64)


def test_raw_data_torch_and_container_torch_are_views_of_ours(tmp_path):
    import torch

    from ptycho_torch.data_container_bridge import PtychoDataContainerTorch
    from ptycho_torch.raw_data_bridge import RawDataTorch

    path = tmp_path / "scan.npz"
    _dataset(path, "diffraction")
    raw = RawDataTorch.from_file(path)
    assert isinstance(raw.diff3d, torch.Tensor) and tuple(raw.diff3d.shape) == (12, 64, 64)
    assert raw.objectGuess is None and len(raw) == 12
    grouped = raw.generate_grouped_data(64, K=4, nsamples=None, seed=0, gridsize=1)
    container = PtychoDataContainerTorch.from_grouped(grouped, raw.numpy.probeGuess, 1e6)
    assert tuple(container.X.shape) == (12, 1, 64, 64)
