"""OUR library ('PtychoPINN (ptychopinn)') driven the way Ptychodus drives a trainable reconstructor.

For each backend: export training data → ``train`` consumed like Ptychodus's
``TrainBackgroundTask`` (``for result in trainer.train(...)``, leaving the loop when the
user presses stop — here after the second epoch) → save model → open it in a fresh session
→ reconstruct.  TensorFlow with gridsize 1, PyTorch with gridsize 2; both runs go
concurrently (each spends its time in its own child process).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import ptychopinn_plugin

pytest.importorskip("ptychodus")
pytestmark = [pytest.mark.ptychodus, pytest.mark.slow]

from ptychodus.api.product import LossValue  # noqa: E402
from ptychodus.api.reconstruct import ReconstructOutput, TrainOutput  # noqa: E402
from ptychodus.api.settings import SettingsRegistry  # noqa: E402

NEPOCHS = 8
STOP_AFTER = 2
CASES = [("tensorflow", 1), ("pytorch", 2)]
HEAVY = ("tensorflow", "keras", "torch", "lightning", "tensordict")


def _library(backend: str, gridsize: int):
    from ptychopinn_plugin.ptychodus import PtychoPINNLibrary

    library = PtychoPINNLibrary(SettingsRegistry())
    settings = library.settings  # what a user sets in the panel
    settings.training.backend.set_value(backend)
    settings.model.gridsize.set_value(gridsize)
    settings.model.n_filters_scale.set_value(1)
    settings.training.nepochs.set_value(NEPOCHS)
    settings.training.n_groups.set_value(64)
    settings.training.seed.set_value(11)
    settings.execution.accelerator.set_value("cpu")
    settings.execution.logger_backend.set_value("none")
    settings.execution.early_stop_patience.set_value(NEPOCHS)
    return library


def _flow(backend: str, gridsize: int, inputs: dict, helpers, root: Path) -> dict:
    start = time.monotonic()
    reconstructor = _library(backend, gridsize).reconstructor("PINN")
    data_dir = helpers.make_training_dir(reconstructor, inputs, root / "data")
    out_dir = root / "out"
    seen = []
    # Ptychodus's TrainBackgroundTask: iterate the generator inline and break on "stop".
    for result in reconstructor.train(data_dir, out_dir):
        seen.append(dict(output=result, goal=reconstructor.get_progress_goal(), busy=reconstructor.is_busy(),
                         archive_exists=(out_dir / "wts.h5.zip").exists()))
        if result.progress >= STOP_AFTER:
            break  # the generator is closed here: stop after the current batch, save, load
    after_stop = dict(busy=reconstructor.is_busy(), loaded=reconstructor.is_model_loaded(),
                      archive=reconstructor.archive_path, info=reconstructor.archive_info)

    saved = root / "saved_model.zip"
    reconstructor.save_model(saved)
    session = _library(backend, gridsize).reconstructor("PINN")  # a new Ptychodus session
    session.load_model_from_file(saved)
    reconstructed = list(session.reconstruct(inputs["test"].reconstruct_input))
    refined = None
    if backend == "pytorch":  # issue #13: the refinement setting, with PyTorch in the child
        session.settings.inference.refine_iterations.set_value(3)
        refined = list(session.reconstruct(inputs["test"].reconstruct_input))
    return dict(seen=seen, after_stop=after_stop, saved=saved, out_dir=out_dir, reconstructed=reconstructed,
                refined=refined, seconds=time.monotonic() - start)


@pytest.fixture(scope="module")
def our_runs(small_inputs, helpers, tmp_path_factory):
    before = set(sys.modules)
    jobs, runs = {}, {}
    records: list[str] = []
    collector = logging.Handler(logging.INFO)
    collector.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    package_logger = logging.getLogger("ptychopinn_plugin")
    previous_level = package_logger.level
    package_logger.addHandler(collector)
    package_logger.setLevel(logging.INFO)
    try:
        with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
            for backend, gridsize in CASES:
                root = tmp_path_factory.mktemp(f"ours_{backend}")
                jobs[backend] = pool.submit(_flow, backend, gridsize, small_inputs, helpers, root)
    finally:
        package_logger.removeHandler(collector)
        package_logger.setLevel(previous_level)
    runs["log"] = records
    for backend, job in jobs.items():
        try:
            runs[backend] = job.result()
        except Exception as exc:  # noqa: BLE001 - reported by the tests of that backend
            runs[backend] = exc
    runs["new_heavy_modules"] = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in HEAVY)
    return runs


def _run(our_runs, backend):
    needed = ("torch", "lightning") if backend == "pytorch" else ("tensorflow",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]  # no import in this process
    if missing:
        pytest.skip(f"{backend} backend not installed ({', '.join(missing)})")
    if backend == "pytorch" and not (Path(ptychopinn_plugin.__file__).parent / "backends" / "torch"
                                     / "archive_codec.py").is_file():
        pytest.skip("the PyTorch archive codec (backends/torch/archive_codec.py) is not in this tree")
    run = our_runs[backend]
    if isinstance(run, Exception):
        raise run
    return run


def test_reconstruction_logs_the_misfit_and_refines_when_asked(our_runs):
    """Issue #13: every reconstruction logs its data consistency; RefineIterations > 0 refines."""
    run = _run(our_runs, "pytorch")
    log = our_runs["log"]
    assert any(line.startswith("data consistency (network): R-factor median") for line in log), log[-20:]
    assert any(line.startswith("data consistency (after refinement)") for line in log), log[-20:]
    assert any(line.startswith("refinement 3/3") for line in log), log[-20:]
    plain = run["reconstructed"][0].product.object_.get_array()
    refined = run["refined"][0].product.object_.get_array()
    assert refined.shape == plain.shape and not np.array_equal(refined, plain)


def test_the_parent_never_imports_a_framework(our_runs):
    assert our_runs["new_heavy_modules"] == []


@pytest.mark.parametrize("backend", [c[0] for c in CASES])
def test_per_epoch_outputs_arrive_while_training_runs(our_runs, backend):
    run = _run(our_runs, backend)
    seen = run["seen"]
    assert [s["output"].progress for s in seen] == list(range(1, STOP_AFTER + 1))
    for k, step in enumerate(seen, start=1):
        output = step["output"]
        assert isinstance(output, TrainOutput) and step["goal"] == NEPOCHS
        assert step["busy"] and not step["archive_exists"]  # delivered before training ended
        assert [v.epoch for v in output.training_loss] == list(range(k))
        assert [v.epoch for v in output.validation_loss] == list(range(k))
        assert all(isinstance(v, LossValue) and math.isfinite(v.value) for v in output.training_loss)
    # Cumulative curves: every output extends the previous one.
    assert seen[1]["output"].training_loss[:1] == seen[0]["output"].training_loss


@pytest.mark.parametrize("backend,gridsize", CASES)
def test_stop_ends_training_early_and_keeps_the_model(our_runs, backend, gridsize):
    from ptychopinn_plugin.archive import read_manifest_only

    run = _run(our_runs, backend)
    after = run["after_stop"]
    assert after["loaded"] and not after["busy"]
    assert after["archive"] == run["out_dir"] / "wts.h5.zip"
    info = read_manifest_only(after["archive"])
    assert info.completed is False
    assert (info.backend, info.model_type, info.N, info.gridsize) == (backend, "pinn", 64, gridsize)
    epochs_done = len(info.history.get("train_loss") or info.history.get("loss"))
    assert STOP_AFTER <= epochs_done < NEPOCHS  # the stop arrived during epoch STOP_AFTER + 1
    # The photon count recorded by the export (mean Σ counts ≈ 1e6) was used: s = sqrt(n)/(N/2).
    assert info.intensity_scale == pytest.approx(math.sqrt(1e6) / 32, rel=2e-3)
    for name in ("history.json", "reconstruction.npz", "reconstructed_amplitude.png", "reconstructed_phase.png"):
        assert (run["out_dir"] / name).is_file(), name
    assert run["saved"].read_bytes() == after["archive"].read_bytes()


@pytest.mark.parametrize("backend,gridsize", CASES)
def test_reconstruction_product(our_runs, small_inputs, helpers, backend, gridsize):
    from ptychopinn_plugin.archive import read_manifest_only

    run = _run(our_runs, backend)
    assert len(run["reconstructed"]) == 1
    output = run["reconstructed"][0]
    assert isinstance(output, ReconstructOutput) and output.progress == 1
    product, given = output.product, small_inputs["test"].reconstruct_input.product
    array = product.object_.get_array()
    assert array.dtype == np.complex64 and array.ndim == 3 and array.shape[0] == 1
    assert array.shape[1] == array.shape[2] and np.all(np.isfinite(array))
    assert product.object_.get_pixel_geometry() == given.object_.get_pixel_geometry()
    assert product.probe_positions is given.probe_positions and product.probes is given.probes

    sim = small_inputs["test"].sim
    info = read_manifest_only(run["saved"])
    loss = info.history.get("train_loss") or info.history["loss"]
    assert [(v.epoch, v.value) for v in product.losses] == [(i, pytest.approx(x)) for i, x in enumerate(loss)]
    note = product.metadata.comments.splitlines()[-1]
    assert f"backend={backend}" in note and hashlib.sha256(run["saved"].read_bytes()).hexdigest() in note
    assert product.metadata.comments.startswith(given.metadata.comments)
    if gridsize == 1:
        # Canvas geometry of data §6.2, computed here from the simulated scan (groups = positions).
        com = (sim.xcoords.mean(), sim.ycoords.mean())
        pad = math.ceil(max(np.abs(sim.xcoords - com[0]).max(), np.abs(sim.ycoords - com[1]).max()))
        pad += pad % 2
        assert array.shape[1] == 20 + 2 * pad
        height, width = sim.objectGuess.shape
        expected = (helpers.CENTER_M[0] + helpers.PIXEL_M * (com[0] - width / 2),
                    helpers.CENTER_M[1] + helpers.PIXEL_M * (com[1] - height / 2))
        center = product.object_.get_center()
        assert (center.x_m, center.y_m) == pytest.approx(expected, abs=1e-12)
