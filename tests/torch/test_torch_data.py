"""Torch container views (data §3.2) and TensorDict batches (data §3.3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptychopinn_plugin.backends.torch.container import PtychoDataContainerTorch
from ptychopinn_plugin.backends.torch.datamodule import (
    BATCH_KEYS,
    GroupBatchDataset,
    PtychoDataModule,
    center_ground_truth,
    validation_split,
)
from ptychopinn_plugin.util.bilinear import translate


@pytest.mark.parametrize("gridsize", [1, 2])
def test_container_is_a_pure_permutation(container_factory, gridsize):
    numpy_c = container_factory(gridsize=gridsize, n_groups=12)
    tc = PtychoDataContainerTorch(numpy_c)
    c = gridsize**2
    assert len(tc) == 12 and tc.channels == c and tc.N == 64
    cases = {
        "X": (numpy_c.X, torch.float32, (12, c, 64, 64)),
        "Y_I": (numpy_c.Y_I, torch.float32, (12, c, 64, 64)),
        "Y_phi": (numpy_c.Y_phi, torch.float32, (12, c, 64, 64)),
        "Y": (numpy_c.Y, torch.complex64, (12, c, 64, 64)),
        "coords_nominal": (numpy_c.coords_nominal, torch.float32, (12, c, 1, 2)),
        "coords_true": (numpy_c.coords_true, torch.float32, (12, c, 1, 2)),
        "coords_relative": (numpy_c.coords_true, torch.float32, (12, c, 1, 2)),
        "coords_offsets": (numpy_c.global_offsets, torch.float64, (12, 1, 1, 2)),
        "global_offsets": (numpy_c.global_offsets, torch.float64, (12, 1, 1, 2)),
        "local_offsets": (numpy_c.local_offsets, torch.float64, (12, c, 1, 2)),
    }
    for name, (source, dtype, shape) in cases.items():
        tensor = getattr(tc, name)
        assert tensor.dtype == dtype and tuple(tensor.shape) == shape, name
        np.testing.assert_array_equal(tensor.numpy(), np.transpose(source, (0, 3, 1, 2)), err_msg=name)
    # [x, y] stays last: x of member c of group b is coords[b, 0, 0, c] in the TF layout.
    assert float(tc.coords_nominal[3, c - 1, 0, 0]) == float(numpy_c.coords_nominal[3, 0, 0, c - 1])
    assert tc.probe.dtype == torch.complex64 and tc.nn_indices.dtype == torch.int64
    assert tc.norm_Y_I == numpy_c.norm_Y_I
    train, test = tc.split(0.75)
    assert isinstance(train, PtychoDataContainerTorch) and (len(train), len(test)) == (9, 3)


@pytest.mark.parametrize("gridsize", [1, 2])
def test_batch_keys_shapes_dtypes_and_meaning(container_factory, gridsize):
    container = container_factory(gridsize=gridsize, n_groups=20)
    c, s = gridsize**2, 31.25
    ds = GroupBatchDataset(container, slice(0, 19), intensity_scale=s)
    batch = ds[[4, 0, 7]]
    rows = [4, 0, 7]
    expected = {
        "images": ((3, c, 64, 64), torch.float32),
        "rms_scaling_constant": ((3, 1, 1, 1), torch.float32),
        "physics_scaling_constant": ((3, 1, 1, 1), torch.float32),
        "coords_relative": ((3, c, 1, 2), torch.float32),
        "coords_offsets": ((3, 1, 1, 2), torch.float32),
        "nn_indices": ((3, c), torch.int64),
        "experiment_id": ((3,), torch.int64),
    }
    assert set(batch.keys()) == set(BATCH_KEYS) == set(expected)
    assert tuple(batch.batch_size) == (3,)
    for key, (shape, dtype) in expected.items():
        assert tuple(batch[key].shape) == shape and batch[key].dtype == dtype, key
    np.testing.assert_array_equal(batch["images"].numpy(), container.X[rows].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(batch["coords_relative"].numpy(),
                                  container.coords_nominal[rows].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(batch["nn_indices"].numpy(), container.nn_indices[rows])
    assert not batch["experiment_id"].any()
    # network input images·rms·phys equals s·X computed in float32, as in TF
    net_in = batch["images"] * (batch["rms_scaling_constant"] * batch["physics_scaling_constant"])
    np.testing.assert_array_equal(net_in.numpy(), (container.X[rows] * np.float32(s)).transpose(0, 3, 1, 2))
    # per-group offsets: mean over members of the absolute positions (data §2.3)
    np.testing.assert_allclose(batch["coords_offsets"].numpy()[:, 0, 0],
                               container.global_offsets[rows][:, 0, :, 0], rtol=1e-6)


def test_supervised_labels_and_missing_ground_truth(container_factory):
    container = container_factory(gridsize=1, n_groups=10)
    batch = GroupBatchDataset(container, slice(0, 10), intensity_scale=1.0, supervised=True)[[2, 5]]
    np.testing.assert_allclose(batch["label_amp"].numpy(), np.abs(container.Y[[2, 5]]).transpose(0, 3, 1, 2))
    np.testing.assert_allclose(batch["label_phase"].numpy(), np.angle(container.Y[[2, 5]]).transpose(0, 3, 1, 2))
    assert batch["label_amp"].dtype == torch.float32
    no_truth = container_factory(gridsize=1, n_groups=10, with_truth=False)
    with pytest.raises(ValueError, match="ground-truth"):
        PtychoDataModule(no_truth, batch_size=4, intensity_scale=1.0, supervised=True)


def test_centred_ground_truth_target(container_factory):
    container = container_factory(gridsize=2, n_groups=10)
    ds = GroupBatchDataset(container, slice(2, 10), intensity_scale=1.0, object_target=True)
    batch = ds[[0, 3]]
    assert batch["label_object"].shape == (2, 1, 64, 64) and batch["label_object"].dtype == torch.complex64
    rows = [2, 5]
    expected = translate(container.Y[rows][..., 0], -container.coords_nominal[rows][:, 0, :, 0].astype(np.float64))
    np.testing.assert_allclose(batch["label_object"].numpy()[:, 0], expected, atol=1e-6)
    np.testing.assert_array_equal(center_ground_truth(container.Y[rows], container.coords_nominal[rows]), expected)


def test_validation_is_the_last_five_percent_and_training_reshuffles(container_factory):
    assert validation_split(40) == (slice(0, 38), slice(38, 40))
    assert validation_split(512) == (slice(0, 486), slice(486, 512))
    with pytest.raises(ValueError, match="at least 2 groups"):
        validation_split(1)
    container = container_factory(gridsize=1, n_groups=40)
    dm = PtychoDataModule(container, batch_size=8, intensity_scale=2.0, seed=11)
    val_rows = np.concatenate([b["nn_indices"].numpy()[:, 0] for b in dm.val_dataloader()])
    np.testing.assert_array_equal(val_rows, container.nn_indices[38:, 0])

    def epoch_order(module):
        return np.concatenate([b["nn_indices"].numpy()[:, 0] for b in module.train_dataloader()])

    first, second = epoch_order(dm), epoch_order(dm)
    assert sorted(first.tolist()) == sorted(container.nn_indices[:38, 0].tolist())  # each training group once
    assert not np.array_equal(first, second)  # reshuffled every epoch
    again = PtychoDataModule(container, batch_size=8, intensity_scale=2.0, seed=11)
    np.testing.assert_array_equal(epoch_order(again), first)  # seeded
    sizes = [int(b.batch_size[0]) for b in dm.train_dataloader()]
    assert sizes == [8, 8, 8, 8, 6]
