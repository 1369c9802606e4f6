"""SyntheticGroupStream: fresh simulated groups through a given probe and group geometry."""

from __future__ import annotations

import numpy as np
import pytest

from ptychopinn_plugin.simulation import make_probe
from ptychopinn_plugin.simulation.forward import far_field_amplitude
from ptychopinn_plugin.simulation.synthetic_stream import SyntheticGroupStream


def _offsets(c: int, groups: int = 5, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed).uniform(-3, 3, (groups, 1, 2, c))
    return r - r.mean(axis=3, keepdims=True)


@pytest.mark.parametrize("c", [1, 4])
def test_batch_shapes_normalisation_and_geometry(c):
    probe = make_probe(64)
    offsets = _offsets(c)
    stream = SyntheticGroupStream(probe, offsets, nphotons=1e8, seed=1, object_size=128, groups_per_object=3)
    batch = stream.next_batch(8)
    assert batch.X.shape == (8, 64, 64, c) and batch.X.dtype == np.float32
    assert batch.Y.shape == (8, 64, 64, c) and batch.Y.dtype == np.complex64
    assert batch.coords_relative.shape == (8, 1, 2, c)
    # physics §3 normalisation over the batch
    assert np.mean(np.sum(batch.X.astype(np.float64) ** 2, axis=(1, 2))) == pytest.approx(32**2, rel=1e-5)
    # every group's offsets are one of the given groups' offsets
    for b in range(8):
        assert any(np.allclose(batch.coords_relative[b], o) for o in offsets)
    # the diffraction is the (noisy) far field of probe × the returned true patches
    for b in range(2):
        for ch in range(c):
            clean = far_field_amplitude(probe.astype(np.complex128) * batch.Y[b, :, :, ch])
            corr = np.corrcoef(clean.ravel(), batch.X[b, :, :, ch].ravel())[0, 1]
            assert corr > 0.99


def test_members_of_a_group_are_the_object_at_the_offset_positions():
    probe = make_probe(64)
    offsets = np.zeros((1, 1, 2, 4))
    offsets[0, 0, 0] = [-4, 4, -4, 4]  # x
    offsets[0, 0, 1] = [-4, -4, 4, 4]  # y
    stream = SyntheticGroupStream(probe, offsets, nphotons=1e8, seed=2, object_size=128)
    y = stream.next_batch(1).Y[0]
    # member c sits at q − r_c: member 0 at q + (4, 4), member 3 at q − (4, 4), so pixel
    # (i, j) of patch 0 is pixel (i + 8, j + 8) of patch 3.
    np.testing.assert_allclose(y[:-8, :-8, 0], y[8:, 8:, 3], atol=1e-5)


def test_deterministic_by_seed_and_objects_change():
    probe = make_probe(64)
    a = SyntheticGroupStream(probe, _offsets(1), nphotons=1e8, seed=3, object_size=128, groups_per_object=2)
    b = SyntheticGroupStream(probe, _offsets(1), nphotons=1e8, seed=3, object_size=128, groups_per_object=2)
    xa, xb = a.next_batch(4), b.next_batch(4)
    np.testing.assert_array_equal(xa.X, xb.X)
    assert a._objects_made == 2  # a new object every 2 groups, families in turn


@pytest.mark.parametrize("kwargs, word", [
    ({"families": ("cells",)}, "families"), ({"nphotons": 0}, "nphotons"), ({"object_size": 60}, "object_size"),
])
def test_bad_parameters_are_refused(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SyntheticGroupStream(make_probe(64), _offsets(1), **{"nphotons": 1e6, **kwargs})
