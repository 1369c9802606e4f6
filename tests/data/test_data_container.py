"""NumPy ``PtychoDataContainer`` and ``loader_load`` (data spec §3.1 semantics)."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.config import legacy_params
from ptychopinn_plugin.data import PtychoDataContainer, RawData, loader_load


def _grouped(base_arrays, write_dataset, *, with_y: bool = True, gridsize: int = 2, nsamples: int = 10,
             shift_start: bool = False):
    arrays = base_arrays(m=16, with_object=with_y)
    if shift_start:
        rng = np.random.default_rng(2)
        arrays["xcoords_start"] = arrays["xcoords"] + rng.normal(size=16)
        arrays["ycoords_start"] = arrays["ycoords"] + rng.normal(size=16)
    raw = RawData.from_file(write_dataset(arrays))
    return raw, raw.generate_grouped_data(16, K=5, nsamples=nsamples, seed=0, gridsize=gridsize)


def test_container_attributes_shapes_dtypes(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset, shift_start=True)
    cont = PtychoDataContainer.from_grouped(g, raw.probeGuess, nphotons=1e6)
    assert len(cont) == 10
    assert cont.X.shape == (10, 16, 16, 4) and cont.X.dtype == np.float32
    np.testing.assert_array_equal(cont.X, g["X_full"])
    assert cont.has_ground_truth
    assert cont.Y.dtype == np.complex64 and cont.Y_I.dtype == np.float32 and cont.Y_phi.dtype == np.float32
    np.testing.assert_allclose(cont.Y_I * np.exp(1j * cont.Y_phi), g["Y"], atol=1e-6)
    assert cont.coords_nominal.shape == (10, 1, 2, 4) and cont.coords_nominal.dtype == np.float32
    np.testing.assert_allclose(cont.coords_nominal, g["coords_start_relative"], rtol=1e-6)
    np.testing.assert_allclose(cont.coords_true, g["coords_relative"], rtol=1e-6)
    assert not np.allclose(cont.coords_nominal, cont.coords_true)  # file carries distinct start positions
    assert cont.coords is cont.coords_nominal
    assert cont.global_offsets.dtype == np.float64 and cont.global_offsets.shape == (10, 1, 2, 1)
    np.testing.assert_array_equal(cont.global_offsets, g["coords_offsets"])
    np.testing.assert_array_equal(cont.local_offsets, g["coords_relative"])
    assert cont.nn_indices.dtype == np.int64
    np.testing.assert_array_equal(cont.probe, raw.probeGuess)
    assert cont.YY_full is None
    # norm_Y_I = sqrt(nphotons / mean Σ X²) = sqrt(nphotons)/(N/2) for freshly normalised data
    assert cont.norm_Y_I == pytest.approx(np.sqrt(1e6) / 8, rel=1e-5)


def test_dummy_ground_truth_is_ones_and_zeros(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset, with_y=False)
    cont = PtychoDataContainer.from_grouped(g, raw.probeGuess, nphotons=1e4)
    assert not cont.has_ground_truth
    assert np.all(cont.Y_I == 1) and np.all(cont.Y_phi == 0) and np.all(cont.Y == 1)
    assert cont.Y_I.shape == cont.X.shape and cont.Y.dtype == np.complex64


def test_channel_mismatch_rejected(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset)
    g = dict(g)
    g["Y"] = g["Y"][..., :1]
    with pytest.raises(ValueError, match="channel"):
        PtychoDataContainer.from_grouped(g, raw.probeGuess, nphotons=1e4)


def test_split_takes_first_fraction(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset, nsamples=10)
    cont = PtychoDataContainer.from_grouped(g, raw.probeGuess, nphotons=1e4)
    train, test = cont.split(0.75)
    assert len(train) == 7 and len(test) == 3
    np.testing.assert_array_equal(train.X, cont.X[:7])
    np.testing.assert_array_equal(test.nn_indices, cont.nn_indices[7:])
    np.testing.assert_array_equal(test.Y, cont.Y[7:])
    with pytest.raises(ValueError):
        cont.split(1.5)


def test_to_npz_round_trip_without_pickle(base_arrays, write_dataset, tmp_path):
    raw, g = _grouped(base_arrays, write_dataset)
    cont = PtychoDataContainer.from_grouped(g, raw.probeGuess, nphotons=1e4)
    path = tmp_path / "container.npz"
    cont.to_npz(path)
    with np.load(path, allow_pickle=False) as data:
        required = {"X", "Y_I", "Y_phi", "norm_Y_I", "coords_nominal", "coords_true", "nn_indices",
                    "global_offsets", "local_offsets", "probe"}
        assert required <= set(data.files) and "YY_full" not in data.files
        assert all(data[k].dtype != object for k in data.files)
    back = PtychoDataContainer.from_npz(path)
    np.testing.assert_array_equal(back.X, cont.X)
    np.testing.assert_allclose(back.Y, cont.Y, atol=1e-6)
    assert back.norm_Y_I == cont.norm_Y_I and back.has_ground_truth
    np.testing.assert_array_equal(back.global_offsets, cont.global_offsets)


def test_loader_load_split_and_which(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset, nsamples=10)
    train = loader_load(lambda: (g, 0.6), raw.probeGuess, "train", True, nphotons=1e4)
    test = loader_load(lambda: (g, 0.6), raw.probeGuess, "test", True, nphotons=1e4)
    assert len(train) == 6 and len(test) == 4
    np.testing.assert_array_equal(np.concatenate([train.X, test.X]), g["X_full"])
    with pytest.raises(ValueError, match="which"):
        loader_load(lambda: (g, 0.6), raw.probeGuess, "validation", True, nphotons=1e4)
    whole = loader_load(lambda: g, raw.probeGuess, None, False, nphotons=1e4)
    assert len(whole) == 10


def test_loader_load_keeps_a_subclass_through_split(base_arrays, write_dataset):
    class Sub(PtychoDataContainer):
        pass

    raw, g = _grouped(base_arrays, write_dataset, nsamples=10)
    part = loader_load(lambda: (g, 0.5), raw.probeGuess, "test", True, nphotons=1e4, container_cls=Sub)
    assert type(part) is Sub and len(part) == 5


def test_loader_load_nphotons_from_legacy_params(base_arrays, write_dataset):
    raw, g = _grouped(base_arrays, write_dataset)
    legacy_params.cfg["nphotons"] = 4e6
    cont = loader_load(lambda: g, raw.probeGuess, "train", False)
    assert cont.norm_Y_I == pytest.approx(np.sqrt(4e6) / 8, rel=1e-5)
