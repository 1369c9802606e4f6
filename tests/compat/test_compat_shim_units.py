"""The ``ptycho`` compatibility names that need no deep-learning framework (api spec §4, §5.1)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ptychopinn_plugin.config import legacy_params
from ptychopinn_plugin.physics import default_probe, probe_mask, stitch_patches


@pytest.fixture(scope="module")
def sim(tiny_dataset_dir):
    with np.load(tiny_dataset_dir / "test_data.npz", allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _ptychodus_raw(sim, gridsize_dtype=np.int32):
    """RawData as Ptychodus 1.7 builds it: integer counts and a (P, N, N) probe-mode stack."""
    from ptycho.raw_data import RawData

    counts = np.rint(sim["diffraction"].astype(np.float64) ** 2).astype(gridsize_dtype)
    probe = sim["probeGuess"]
    stack = np.stack([probe, 0.2 * np.roll(probe, 3, axis=0)])
    return RawData.from_coords_without_pc(
        xcoords=sim["xcoords"], ycoords=sim["ycoords"], diff3d=counts, probeGuess=stack,
        scan_index=np.zeros(len(sim["xcoords"]), dtype=int), objectGuess=sim["objectGuess"],
    )


def test_shim_rawdata_reads_integer_counts_as_intensity(sim, tiny_dataset_dir):
    from ptycho.raw_data import RawData

    raw = _ptychodus_raw(sim)
    assert raw.diff3d.dtype == np.float32
    np.testing.assert_allclose(raw.diff3d, sim["diffraction"], rtol=1e-6, atol=1e-6)  # sqrt(counts) = amplitude
    np.testing.assert_array_equal(raw.probeGuess, sim["probeGuess"])  # dominant mode of the stack
    assert isinstance(raw, RawData)
    # The float file with metadata domain 'amplitude' is read unchanged in 'auto' mode too.
    from_file = RawData.from_file(tiny_dataset_dir / "test_data.npz")
    np.testing.assert_array_equal(from_file.diff3d, sim["diffraction"])
    train, test = RawData.from_files(tiny_dataset_dir / "train_data.npz", tiny_dataset_dir / "test_data.npz")
    assert isinstance(train, RawData) and isinstance(test, RawData)
    assert isinstance(test.select([0, 1]), RawData)


def test_shim_nsamples_means_groups_per_scan_position(sim):
    raw = _ptychodus_raw(sim)
    m = len(raw)
    for nsamples in (1, 3):  # gridsize 1: every position exactly once, nsamples ignored
        g1 = raw.generate_grouped_data(64, K=7, nsamples=nsamples, gridsize=1)
        np.testing.assert_array_equal(g1["nn_indices"][:, 0], np.arange(m))
    g2 = raw.generate_grouped_data(64, K=7, nsamples=1, gridsize=2, seed=0)  # Ptychodus default NumSamples 1
    assert g2["nn_indices"].shape == (m, 4)  # M groups, no oversampling needed
    g2x = raw.generate_grouped_data(64, K=7, nsamples=2, gridsize=2, seed=0)
    assert g2x["nn_indices"].shape == (2 * m, 4)  # oversampling switched on because 2M > M
    legacy_params.set("gridsize", 2)
    assert raw.generate_grouped_data(64, K=7, nsamples=1)["nn_indices"].shape == (m, 4)  # gridsize from params.cfg
    # The core API keeps the total-count meaning.
    from ptychopinn_plugin.data import RawData as CoreRawData

    assert CoreRawData.generate_grouped_data(raw, 64, K=7, nsamples=5, gridsize=2)["nn_indices"].shape == (5, 4)


def test_set_probe_guess_normalises_and_stores_in_params(sim):
    import ptycho.probe

    legacy_params.set("probe_scale", 4.0)
    stored = ptycho.probe.set_probe_guess(None, np.stack([sim["probeGuess"], 0.1 * sim["probeGuess"]]))
    assert stored.shape == (64, 64, 1) and stored.dtype == np.complex64
    assert legacy_params.cfg["probe"] is stored
    msk = probe_mask(64)
    assert float(np.mean(np.abs(msk * stored[..., 0]))) == pytest.approx(1 / 4.0, rel=1e-5)
    ratio = stored[..., 0] / sim["probeGuess"]
    np.testing.assert_allclose(ratio[msk > 0], ratio[32, 32], rtol=1e-4)  # same shape, only rescaled

    estimated = ptycho.probe.set_probe_guess(sim["diffraction"][..., None], None)
    assert estimated.shape == (64, 64, 1)
    assert float(np.mean(np.abs(msk * estimated[..., 0]))) == pytest.approx(0.25, rel=1e-5)
    assert np.allclose(estimated[..., 0].imag, 0) and (np.abs(estimated[..., 0]) * (1 - msk)).max() == 0

    default = ptycho.probe.get_default_probe(64)
    np.testing.assert_array_equal(default, default_probe(64).astype(np.complex64))
    with pytest.raises(ValueError, match="fmt"):
        ptycho.probe.get_default_probe(64, fmt="torch")
    np.testing.assert_array_equal(ptycho.probe.get_probe_mask(64)[..., 0], msk)
    raw_probe = (np.arange(64 * 64).reshape(64, 64) + 1).astype(np.complex64)
    np.testing.assert_array_equal(ptycho.probe.set_probe(raw_probe)[..., 0], raw_probe)  # stored as given
    legacy_params.set("N", 64)
    assert float(np.mean(np.abs(msk * ptycho.probe.set_default_probe()[..., 0]))) == pytest.approx(0.25, rel=1e-5)


@pytest.mark.parametrize("layout", ["(B,1,2,1)", "(B,1,1,2)"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tf_helper_reassemble_position_is_numpy_and_accepts_both_layouts(layout, dtype):
    import ptycho.tf_helper

    rng = np.random.default_rng(1)
    patches = (rng.normal(size=(12, 64, 64, 1)) + 1j * rng.normal(size=(12, 64, 64, 1))).astype(np.complex64)
    xy = rng.uniform(40, 80, size=(12, 2))
    offsets = xy[:, None, :, None] if layout == "(B,1,2,1)" else xy[:, None, None, :]
    out = ptycho.tf_helper.reassemble_position(patches, offsets.astype(dtype), M=20)
    reference = stitch_patches(patches, xy[:, None, :, None], M=20).image
    assert isinstance(out, np.ndarray) and out.dtype == np.complex64 and out.ndim == 3 and out.shape[2] == 1
    np.testing.assert_allclose(out, reference, atol=1e-4 if dtype == np.float32 else 1e-6)


def test_ptycho_imports_stay_framework_free():
    code = (
        "import json, sys, ptycho\n"
        "import ptycho.raw_data, ptycho.loader, ptycho.probe, ptycho.tf_helper, ptycho.model, ptycho.model_manager\n"
        "import ptycho.workflows.components, ptycho.workflows.backend_selector, ptycho.evaluation, ptycho.params\n"
        "import ptychopinn_plugin.workflows as w\n"
        "[getattr(w, n) for n in w.__all__]\n"
        "heavy = ('tensorflow', 'keras', 'torch', 'lightning', 'tensordict', 'PyQt5')\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy})))\n"
        "print(ptycho.probe.set_probe_guess.__module__, ptycho.tf_helper.reassemble_position.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[0]) == []
    # Reached as attributes without importing the submodules first (Ptychodus <= 1.1 does this).
    code2 = "import ptycho; print(callable(ptycho.probe.set_probe_guess), callable(ptycho.tf_helper.reassemble_position))"
    out2 = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True, check=True, timeout=120)
    assert out2.stdout.split() == ["True", "True"]


def test_ptycho_model_params_and_save_rules(tmp_path):
    import ptycho.model
    import ptycho.model_manager
    import ptycho.params

    legacy_params.set("intensity_scale", 12.5)
    assert ptycho.model.params()["intensity_scale"] == 12.5 == ptycho.params.params()["intensity_scale"]
    assert ptycho.model.params()["bigN"] == ptycho.params.get("bigN")
    with pytest.raises(AttributeError, match="create_model_with_gridsize"):
        ptycho.model.diffraction_to_obj  # noqa: B018
    with pytest.raises(RuntimeError, match="no trained model to save"):
        ptycho.model_manager.save(str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()
