"""Subsampling (data spec §2.1): seeded, sorted, no global RNG, no files; import stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from ptychopinn_plugin.data import RawData, subsample_indices, subsample_raw_data


def test_subsample_indices_deterministic_sorted_unique():
    a = subsample_indices(100, 30, seed=7)
    b = subsample_indices(100, 30, seed=7)
    c = subsample_indices(100, 30, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int64 and a.shape == (30,)
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 100


def test_subsample_does_not_touch_global_rng_nor_write_files(base_arrays, write_dataset, tmp_path, monkeypatch):
    raw = RawData.from_file(write_dataset(base_arrays(m=12)))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    np.random.seed(5)
    before = np.random.get_state()
    sub = subsample_raw_data(raw, 5, subsample_seed=3)
    after = np.random.get_state()
    assert np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    assert list(work.iterdir()) == []
    idx = subsample_indices(12, 5, seed=3)
    np.testing.assert_array_equal(sub.sample_indices, idx)
    np.testing.assert_array_equal(sub.diff3d, raw.diff3d[idx])
    np.testing.assert_array_equal(sub.xcoords, raw.xcoords[idx])
    np.testing.assert_array_equal(sub.scan_index, raw.scan_index[idx])
    assert sub.probeGuess is raw.probeGuess and len(sub) == 5


def test_nested_subsample_indexes_the_source_file(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays(m=12)))
    first = subsample_raw_data(raw, 8, subsample_seed=1)
    second = subsample_raw_data(first, 4, subsample_seed=2)
    np.testing.assert_array_equal(second.diff3d, raw.diff3d[second.sample_indices])


def test_subsample_none_or_too_many_keeps_everything(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays(m=12)))
    assert subsample_raw_data(raw, None) is raw
    np.testing.assert_array_equal(subsample_indices(12, 50, seed=0), np.arange(12))


def test_data_layer_import_is_framework_free():
    code = (
        "import sys, numpy as np\n"
        "from ptychopinn_plugin.data import RawData, PtychoDataContainer, loader_load\n"
        "raw = RawData.from_coords_without_pc(np.arange(8.), np.arange(8.)**1.3, np.ones((8,64,64)),"
        " np.ones((64,64)), None)\n"
        "g = raw.generate_grouped_data(64, K=4, nsamples=4, seed=0, gridsize=2)\n"
        "PtychoDataContainer.from_grouped(g, raw.probeGuess, 1e6)\n"
        "bad = [m for m in ('tensorflow', 'keras', 'torch', 'lightning', 'tensordict', 'PyQt5')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
