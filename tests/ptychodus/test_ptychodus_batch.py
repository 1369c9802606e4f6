"""Batch mode: ``ptychodus -b train`` (stock Ptychodus, built-in PtychoPINN through our ``ptycho``)
then ``ptychopinn-ptychodus -b reconstruct`` (our launcher and library) on directories laid out
the way Ptychodus's batch mode reads them (``StandardFileLayout``): ``diffraction.h5``,
``product.h5``, ``settings.ini``, plus ``train_data.npz``/``test_data.npz`` for training and
``model.zip`` for reconstruction.

The reconstruction uses the model the built-in path trained, so this also checks that an
archive written through the shim is accepted by our library.  The launcher runs in a fresh
interpreter which reports the frameworks it imported: none (the work happens in the child).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ptychodus")
pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.ptychodus, pytest.mark.tf, pytest.mark.slow]

from ptychodus.api.assemble import AssembledDiffractionData  # noqa: E402
from ptychodus.api.geometry import PixelGeometry  # noqa: E402
from ptychodus.api.io import StandardFileLayout, load_product, save_diffraction_data, save_product  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "torch", "lightning", "tensordict")
LAUNCHER = (
    "import json, sys\n"
    "from ptychopinn_plugin.ptychodus.launcher import main\n"
    "code = main(sys.argv[1:])\n"
    f"print('HEAVY=' + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    "sys.exit(code)\n"
)


def _batch_directory(directory: Path, simulated, settings: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    given = simulated.reconstruct_input
    m = given.diffraction_patterns.shape[0]
    save_diffraction_data(directory / StandardFileLayout.DIFFRACTION, AssembledDiffractionData(
        indexes=np.arange(m), patterns=given.diffraction_patterns,
        pixel_geometry=PixelGeometry(width_m=75e-6, height_m=75e-6), bad_pixels=given.bad_pixels))
    save_product(directory / StandardFileLayout.PRODUCT, given.product)
    (directory / StandardFileLayout.SETTINGS).write_text(settings)
    return directory


def _run(command: list[str], label: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, f"{label} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def batch_runs(small_inputs, tmp_path_factory):
    from ptychodus.api.io import save_ptychopinn_training_data

    train_in = _batch_directory(tmp_path_factory.mktemp("batch_train_in"), small_inputs["train"], (
        "[Processing]\nAlgorithm = ptychopinn_pinn\n"
        "[PtychoPINNModel]\nNumFiltersScale = 1\n"
        "[PtychoPINNTraining]\nNumEpochs = 1\nBatchSize = 32\n"))
    # Training data exported beforehand with Ptychodus's own exporter (what the GUI action writes).
    save_ptychopinn_training_data(train_in / "train_data.npz", small_inputs["train"].reconstruct_input)
    save_ptychopinn_training_data(train_in / "test_data.npz", small_inputs["test"].reconstruct_input)
    train_out = tmp_path_factory.mktemp("batch_train_out")
    trained = _run([sys.executable, "-m", "ptychodus", "-b", "train", "-i", str(train_in), "-o", str(train_out)],
                   "ptychodus -b train")

    recon_in = _batch_directory(tmp_path_factory.mktemp("batch_recon_in"), small_inputs["test"], (
        "[Processing]\nAlgorithm = ptychopinn (ptychopinn)_pinn\n"
        "[PtychoPINNInference]\nDiffractionDomain = intensity\n"))
    shutil.copyfile(train_out / "wts.h5.zip", recon_in / f"{StandardFileLayout.MODEL_BASENAME}.zip")
    recon_out = tmp_path_factory.mktemp("batch_recon_out")
    reconstructed = _run([sys.executable, "-c", LAUNCHER, "-b", "reconstruct", "-i", str(recon_in), "-o",
                          str(recon_out)], "ptychopinn-ptychodus -b reconstruct")
    return dict(train_out=train_out, recon_out=recon_out, trained=trained, reconstructed=reconstructed)


def test_stock_ptychodus_batch_training_through_the_shim(batch_runs):
    from ptychopinn_plugin.archive import read_manifest_only

    info = read_manifest_only(batch_runs["train_out"] / "wts.h5.zip")
    assert (info.backend, info.model_type, info.N, info.gridsize) == ("tensorflow", "pinn", 64, 1)
    assert info.model_config.n_filters_scale == 1 and len(info.history["loss"]) == 1  # settings.ini applied
    assert (batch_runs["train_out"] / "history.json").is_file()


def test_launcher_batch_reconstruction_with_our_library(batch_runs, small_inputs, helpers):
    heavy = [line for line in batch_runs["reconstructed"].stdout.splitlines() if line.startswith("HEAVY=")]
    assert heavy and json.loads(heavy[-1][len("HEAVY="):]) == []  # the parent imported no framework
    outputs = sorted(batch_runs["recon_out"].glob("product*.h5"))
    assert len(outputs) == 1, outputs
    product = load_product(outputs[0])
    given = small_inputs["test"].reconstruct_input.product
    array = product.object_.get_array()
    assert array.shape[0] == 1 and array.shape[1] == array.shape[2] and np.all(np.isfinite(array))
    assert "ptychopinn" in product.metadata.comments and "backend=tensorflow" in product.metadata.comments
    assert len(product.probe_positions) == len(given.probe_positions)
    # Our placement (data §6.2): the canvas centre sits over the scan centroid, not the input centre.
    sim = small_inputs["test"].sim
    height, width = sim.objectGuess.shape
    center = product.object_.get_center()
    assert center.x_m == pytest.approx(helpers.CENTER_M[0] + helpers.PIXEL_M * (sim.xcoords.mean() - width / 2))
    assert center.y_m == pytest.approx(helpers.CENTER_M[1] + helpers.PIXEL_M * (sim.ycoords.mean() - height / 2))
