"""Grouping (data spec §2.2) and the exact grouped-dictionary contract (§2.3)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ptychopinn_plugin.config import legacy_params
from ptychopinn_plugin.data import RawData, group_indices

GROUPED_TABLE = {
    # key: (shape builder(B, N, C, H, W), dtype)
    "diffraction": (lambda B, N, C: (B, N, N, C), np.float32),
    "X_full": (lambda B, N, C: (B, N, N, C), np.float32),
    "Y": (lambda B, N, C: (B, N, N, C), np.complex64),
    "coords_nn": (lambda B, N, C: (B, 1, 2, C), np.float64),
    "coords_offsets": (lambda B, N, C: (B, 1, 2, 1), np.float64),
    "coords_relative": (lambda B, N, C: (B, 1, 2, C), np.float64),
    "coords_start_nn": (lambda B, N, C: (B, 1, 2, C), np.float64),
    "coords_start_offsets": (lambda B, N, C: (B, 1, 2, 1), np.float64),
    "coords_start_relative": (lambda B, N, C: (B, 1, 2, C), np.float64),
    "nn_indices": (lambda B, N, C: (B, C), np.int64),
}


def _positions(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 100, n), rng.uniform(0, 100, n)


def _knn_brute(x: np.ndarray, y: np.ndarray, seed: int, k: int) -> set[int]:
    d = np.hypot(x - x[seed], y - y[seed])
    order = np.argsort(d, kind="stable")
    assert order[0] == seed
    return set(order[1:k + 1].tolist())


@pytest.mark.parametrize("gridsize", [1, 2])
def test_grouped_dict_has_exactly_the_table_keys_shapes_dtypes(base_arrays, write_dataset, gridsize):
    raw = RawData.from_file(write_dataset(base_arrays(m=12, n=16)))
    grouped = raw.generate_grouped_data(16, K=5, nsamples=7, seed=3, gridsize=gridsize)
    c = gridsize**2
    assert set(grouped) == set(GROUPED_TABLE) | {"objectGuess"}  # no sample_indices: RawData has none
    for key, (shape, dtype) in GROUPED_TABLE.items():
        assert grouped[key].shape == shape(7, 16, c), key
        assert grouped[key].dtype == dtype, key
    assert grouped["objectGuess"].dtype == np.complex64 and grouped["objectGuess"].shape == (48, 48)


def test_grouped_dict_none_items_without_ground_truth(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays(with_object=False)))
    grouped = raw.generate_grouped_data(16, nsamples=3, seed=0, gridsize=1)
    assert grouped["Y"] is None and grouped["objectGuess"] is None


def test_same_seed_identical_different_seed_different():
    x, y = _positions(200)
    a = group_indices(x, y, gridsize=2, K=6, nsamples=50, seed=11)
    b = group_indices(x, y, gridsize=2, K=6, nsamples=50, seed=11)
    c = group_indices(x, y, gridsize=2, K=6, nsamples=50, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    g1 = group_indices(x, y, gridsize=1, nsamples=50, seed=11)
    assert not np.array_equal(g1, group_indices(x, y, gridsize=1, nsamples=50, seed=12))


def test_grouping_does_not_touch_global_rng():
    x, y = _positions(100)
    np.random.seed(123)
    state = np.random.get_state()
    group_indices(x, y, gridsize=2, K=4, nsamples=30, seed=None)
    group_indices(x, y, gridsize=2, K=4, nsamples=300, seed=1, enable_oversampling=True)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_sequential_sampling_gridsize1_first_indices():
    x, y = _positions(30)
    nn = group_indices(x, y, gridsize=1, nsamples=10, seed=5, sequential_sampling=True)
    np.testing.assert_array_equal(nn[:, 0], np.arange(10))


def test_sequential_sampling_gridsize2_seeds_in_order_and_deterministic():
    x, y = _positions(60, seed=2)
    k = 5
    a = group_indices(x, y, gridsize=2, K=k, nsamples=20, seed=1, sequential_sampling=True)
    b = group_indices(x, y, gridsize=2, K=k, nsamples=20, seed=99, sequential_sampling=True)
    np.testing.assert_array_equal(a, b)  # member draw uses Generator(0) regardless of seed
    for seed_index, members in enumerate(a):
        assert set(members.tolist()) <= _knn_brute(x, y, seed_index, k)


def test_k_plus_one_query_drops_the_seed_itself():
    """Every member is among the seed's K nearest *other* points (brute force); never the seed."""
    x, y = _positions(80, seed=4)
    k = 6
    nn = group_indices(x, y, gridsize=2, K=k, nsamples=80, seed=0, sequential_sampling=True)
    for s, members in enumerate(nn):
        assert s not in members
        assert set(members.tolist()) <= _knn_brute(x, y, s, k)
        assert len(set(members.tolist())) == 4
    # random mode: each group lies inside the K-NN set (seed excluded) of some non-member seed
    nn_random = group_indices(x, y, gridsize=2, K=k, nsamples=40, seed=7)
    neighbourhoods = [_knn_brute(x, y, s, k) for s in range(80)]
    for members in nn_random:
        mset = set(members.tolist())
        assert any(mset <= neighbourhoods[s] and s not in mset for s in range(80))


def test_pool_all_points_when_n_not_above_k():
    x, y = _positions(5, seed=8)
    nn = group_indices(x, y, gridsize=2, K=6, nsamples=5, seed=0, sequential_sampling=True)
    assert nn.shape == (5, 4)
    assert all(len(set(row.tolist())) == 4 for row in nn)
    assert any(s in nn[s] for s in range(5))  # seed belongs to its own pool here


def test_gridsize1_random_all_in_order_when_nsamples_equals_n():
    x, y = _positions(20)
    np.testing.assert_array_equal(group_indices(x, y, gridsize=1, nsamples=20, seed=3)[:, 0], np.arange(20))
    sub = group_indices(x, y, gridsize=1, nsamples=8, seed=3)[:, 0]
    assert len(set(sub.tolist())) == 8 and sub.max() < 20


def test_gridsize1_nsamples_above_n_capped_with_warning(caplog):
    x, y = _positions(20)
    with caplog.at_level(logging.WARNING, logger="ptychopinn_plugin.data"):
        nn = group_indices(x, y, gridsize=1, nsamples=50, seed=0)
    np.testing.assert_array_equal(nn[:, 0], np.arange(20))
    assert any("50" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_nsamples_none_means_one_group_per_position():
    x, y = _positions(25)
    assert group_indices(x, y, gridsize=2, K=4, nsamples=None, seed=0).shape == (25, 4)


def test_error_n_smaller_than_c():
    x, y = _positions(3)
    with pytest.raises(ValueError, match="n = 3"):
        group_indices(x, y, gridsize=2, K=4, nsamples=1)


def test_error_k_smaller_than_c():
    x, y = _positions(30)
    with pytest.raises(ValueError, match="K .*= 3.*C = gridsize² = 4"):
        group_indices(x, y, gridsize=2, K=3, nsamples=5)


def test_error_oversampling_disabled_names_the_options():
    x, y = _positions(30)
    with pytest.raises(ValueError) as err:
        group_indices(x, y, gridsize=2, K=6, nsamples=31)
    text = str(err.value)
    assert "enable_oversampling" in text and "neighbor_pool_size" in text and "C = 4" in text


def test_error_pool_smaller_than_c_with_oversampling():
    x, y = _positions(30)
    with pytest.raises(ValueError, match="neighbor_pool_size = 3"):
        group_indices(x, y, gridsize=2, K=6, nsamples=60, enable_oversampling=True, neighbor_pool_size=3)


def test_oversampling_produces_distinct_neighbour_combinations():
    x, y = _positions(40, seed=9)
    pool = 7
    nn = group_indices(x, y, gridsize=2, K=4, nsamples=120, seed=2, enable_oversampling=True,
                       neighbor_pool_size=pool)
    assert nn.shape == (120, 4) and nn.dtype == np.int64
    assert all(len(set(row.tolist())) == 4 for row in nn)
    # drawn without replacement from the pool (two seeds may share a combination, so allow a few)
    assert len({frozenset(row.tolist()) for row in nn}) >= 108
    neighbourhoods = [_knn_brute(x, y, s, pool) for s in range(40)]
    for members in nn:
        mset = set(members.tolist())
        assert any(mset <= neighbourhoods[s] for s in range(40))
    again = group_indices(x, y, gridsize=2, K=4, nsamples=120, seed=2, enable_oversampling=True,
                          neighbor_pool_size=pool)
    np.testing.assert_array_equal(nn, again)


def test_oversampling_flag_ignored_when_not_needed():
    x, y = _positions(30)
    a = group_indices(x, y, gridsize=2, K=5, nsamples=10, seed=4, enable_oversampling=True)
    b = group_indices(x, y, gridsize=2, K=5, nsamples=10, seed=4)
    np.testing.assert_array_equal(a, b)


def test_gridsize_none_reads_legacy_params(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays()))
    legacy_params.cfg["gridsize"] = 2
    grouped = raw.generate_grouped_data(16, K=4, nsamples=3, seed=0, dataset_path="ignored.npz")
    assert grouped["nn_indices"].shape == (3, 4)


def test_grouping_rejects_n_mismatch(base_arrays, write_dataset):
    raw = RawData.from_file(write_dataset(base_arrays()))
    with pytest.raises(ValueError, match="N = 64"):
        raw.generate_grouped_data(64, nsamples=3, gridsize=1)


def test_invalid_arguments_rejected():
    x, y = _positions(10)
    for kwargs in ({"gridsize": 0}, {"gridsize": 1, "nsamples": 0}, {"gridsize": 2, "K": True}):
        with pytest.raises(ValueError):
            group_indices(x, y, **kwargs)
