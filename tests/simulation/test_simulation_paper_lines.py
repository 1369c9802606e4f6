"""The SIM-LINES building blocks: 'lines' objects, the 'disk' probe and the exact 'grid' scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptychopinn_plugin.cli.simulate import main
from ptychopinn_plugin.physics.probe import default_probe, normalise_probe
from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset
from ptychopinn_plugin.simulation.lines import make_lines_object


def test_lines_object_is_amplitude_only_in_range_with_thin_features():
    obj = make_lines_object(196, 3)
    assert obj.dtype == np.complex64 and obj.shape == (196, 196)
    np.testing.assert_array_equal(np.angle(obj), 0.0)
    amp = np.abs(obj)
    assert amp.min() == pytest.approx(0.5) and amp.max() == pytest.approx(1.0, abs=1e-6)
    bright = amp > 0.75
    # Lines cover a minority of the area, and they are thin: most bright pixels border background.
    assert 0.03 < bright.mean() < 0.4
    eroded = bright[1:-1, 1:-1] & bright[:-2, 1:-1] & bright[2:, 1:-1] & bright[1:-1, :-2] & bright[1:-1, 2:]
    assert eroded.sum() < 0.5 * bright.sum()


def test_lines_object_is_deterministic_by_seed():
    np.testing.assert_array_equal(make_lines_object(100, 7), make_lines_object(100, 7))
    assert not np.array_equal(make_lines_object(100, 7), make_lines_object(100, 8))


@pytest.mark.parametrize("kwargs, word", [({"density": 0}, "density"), ({"blur": -1}, "blur"),
                                          ({"length_range": (5, 2)}, "length_range")])
def test_lines_object_rejects_bad_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        make_lines_object(64, 0, **kwargs)


def test_grid_lines_disk_dataset_uses_the_disk_probe_an_exact_lattice_and_lines():
    cfg = SimulationConfig(object_size=120, n_positions=None, scan_step=4.0, jitter=0.0, scan="grid",
                           object_kind="lines", probe_kind="disk", nphotons=1e9)
    ds = simulate_dataset(cfg)
    expected_probe = normalise_probe(default_probe(64).astype(np.complex64))
    np.testing.assert_allclose(ds.probeGuess, expected_probe, rtol=1e-6)
    xs = np.unique(ds.xcoords)
    np.testing.assert_allclose(np.diff(xs), 4.0)
    assert ds.n_positions == xs.size**2
    np.testing.assert_array_equal(np.angle(ds.objectGuess), 0.0)
    assert ds.metadata["creation_info"]["probe"].startswith("blurred disk")
    counts = (ds.diffraction.astype(np.float64) ** 2).sum(axis=(1, 2))
    assert counts.mean() == pytest.approx(1e9, rel=1e-3)


@pytest.mark.parametrize("kwargs, word", [
    ({"scan": "grid", "n_positions": None, "scan_step": 4.0}, "jitter"),
    ({"scan": "spiral"}, "scan"), ({"object_kind": "cells"}, "object_kind"), ({"probe_kind": "ring"}, "probe_kind"),
])
def test_invalid_kinds_raise_naming_the_field(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SimulationConfig(**kwargs)


def test_cli_grid_scan_defaults_to_4px_lattice_without_jitter(tmp_path):
    out = tmp_path / "sim"
    rc = main(["--output-dir", str(out), "--object", "lines", "--probe", "disk", "--scan", "grid",
               "--object-size", "100", "--log-level", "WARNING", "--quiet"])
    assert rc == 0
    with np.load(out / "train_data.npz", allow_pickle=False) as tr:
        x = tr["xcoords"]
        meta = json.loads(str(tr["_metadata"]))
    np.testing.assert_allclose(np.diff(np.unique(x)), 4.0)
    params = meta["creation_info"]["parameters"]
    assert params["object_kind"] == "lines" and params["probe_kind"] == "disk" and params["jitter"] == 0.0
