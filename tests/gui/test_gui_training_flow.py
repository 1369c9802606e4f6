"""End-to-end desktop-app flow with the real TensorFlow backend in the worker process.

One test on purpose: the spawned worker imports TensorFlow once (~6–15 s on 2 loaded
cores) and is reused for training, inference and the stop-and-keep run; the final Cancel
kills it.  Sizes are tiny (N = 64, 64 positions, n_filters_scale = 1, 32 groups).
"""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.tf, pytest.mark.slow]

RUN_TIMEOUT_MS = 300_000


def _wait_finished(qtbot, controller, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not controller.worker.busy, timeout=timeout)


def _schedstat() -> tuple[float, float]:
    """``(seconds on a CPU, seconds runnable but waiting for a CPU)`` of the GUI thread (Linux), else zeros.

    Lets the responsiveness check separate "the GUI thread was busy" (our fault) from "other
    processes held every core" (the shared 2-core test machine)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as fh:
            on_cpu, waiting = fh.read().split()[:2]
        return int(on_cpu) * 1e-9, int(waiting) * 1e-9
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_train_preview_save_infer_export_stop_cancel(qtbot, app_window, tiny_sample, configure_tiny, tmp_path,
                                                     framework_guard):
    from PyQt5.QtCore import QTimer

    window, controller = app_window
    train_file, test_file = tiny_sample

    # ---------------------------------------------------------------- load the sample
    assert controller.load_dataset(train_file, "train") is not None
    assert controller.load_dataset(test_file, "test") is not None
    panel = window.data_panel
    assert panel.summary_value("train", "Diffraction patterns") == "64"
    assert panel.summary_value("train", "Pattern size N") == "64 × 64"
    assert panel.summary_value("test", "Diffraction patterns") == "64"
    assert controller.form.model.get("N") == 64
    report = configure_tiny(controller, nepochs=2)
    assert report.ok, report
    window.training_panel.preview_every.setValue(1)
    assert window.training_panel.train_button.isEnabled()

    # ---------------------------------------------------------------- train 2 epochs
    qtbot.waitExposed(window)
    qtbot.wait(300)  # first paint of every canvas happens now, not during the run
    ticks: list[tuple[float, float]] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append((time.perf_counter(), *_schedstat())))
    events: list[tuple[float, str]] = []
    controller.worker.yielded.connect(lambda m: events.append((time.perf_counter(), m.get("kind", ""))))
    controller.worker.status.connect(lambda t: events.append((time.perf_counter(), t)))
    previews: list[dict] = []
    controller.worker.yielded.connect(lambda msg: previews.append(msg) if msg.get("kind") == "preview" else None)
    timer.start()
    t0 = time.perf_counter()
    job = controller.train()
    submit_seconds = time.perf_counter() - t0
    assert job is not None
    assert controller.worker.worker.start_seconds < 0.5, "spawning the worker blocked the GUI thread"
    assert submit_seconds < 0.5
    _wait_finished(qtbot, controller)
    timer.stop()

    assert not controller.errors, controller.errors
    framework_guard()
    stamps = np.asarray(ticks)
    wall_gaps = np.diff(stamps[:, 0])
    cpu_gaps = np.diff(stamps[:, 1])
    busy_gaps = wall_gaps - np.diff(stamps[:, 2])  # minus time spent waiting for a CPU
    assert wall_gaps.size > 50
    worst = int(np.argmax(busy_gaps))
    near = [f"{t - stamps[worst, 0]:+.2f}s {k}" for t, k in events if abs(t - stamps[worst, 0]) < 3]
    print(f"event-loop gaps: wall max {wall_gaps.max() * 1000:.0f} ms, "
          f"99th percentile {np.percentile(wall_gaps, 99) * 1000:.0f} ms; "
          f"excluding CPU starvation max {busy_gaps.max() * 1000:.0f} ms "
          f"(of which on CPU {cpu_gaps[worst] * 1000:.0f} ms; events nearby: {near}); "
          f"worker launch {controller.worker.worker.launch_seconds:.2f} s in the helper thread")
    assert busy_gaps.max() <= 0.2, f"GUI event loop blocked for {busy_gaps.max() * 1000:.0f} ms during training"

    plot = window.training_panel.loss_plot
    x_train, y_train = plot.train_line.get_data()
    x_val, y_val = plot.val_line.get_data()
    assert list(x_train) == [1, 2] and list(x_val) == [1, 2]
    assert np.all(np.isfinite(y_train)) and np.all(np.isfinite(y_val))
    assert controller.progress.done == 2
    assert window.training_panel.progress.value() == 2

    assert len(previews) == 1  # after epoch 1 of 2 (the last epoch is followed by the final reconstruction)
    image = window.image_panel.images["amplitude"].get_array()
    assert image.ndim == 2 and image.shape[0] > 20 and float(np.ptp(image)) > 0
    phase_im = window.image_panel.images["phase"]
    assert phase_im.get_clim() == pytest.approx((-math.pi, math.pi))
    assert "truth amplitude" in window.image_panel.images  # the test data carry objectGuess
    rec = controller.reconstruction
    assert rec is not None and rec.metrics is not None
    assert 0.0 <= rec.metrics["ssim"][0] <= 1.0
    assert window.image_panel.metrics.isVisible()
    assert window.image_panel.metrics.item(0, 0).text() == "SSIM"

    # ---------------------------------------------------------------- save and reopen the model
    saved = controller.save_model(tmp_path / "model" / "wts.h5.zip")
    assert saved is not None and saved.is_file()
    controller.model_archive = None
    summary = controller.open_model(saved)
    assert summary is not None
    models = window.models_panel
    assert models.summary_value("Backend") == "tensorflow"
    assert models.summary_value("N") == "64"
    assert models.summary_value("gridsize") == "3"  # the app's recipe (docs/desktop_app.md)
    assert models.summary_value("Epochs trained") == "2"
    assert models.summary_value("Training completed") == "yes"

    # ---------------------------------------------------------------- inference in the same worker
    pid = controller.worker.pid
    models.dataset_combo.setCurrentIndex(models.dataset_combo.findData("test"))
    assert controller.reconstruct() is not None
    _wait_finished(qtbot, controller)
    assert not controller.errors, controller.errors
    assert controller.worker.pid == pid, "the worker was not reused"
    rec = controller.reconstruction
    assert rec.label.startswith("inference on the test data")
    assert rec.metrics is not None

    # ---------------------------------------------------------------- misfit map (issue #13)
    panel = window.image_panel
    assert rec.misfit is not None and rec.misfit["deviance_ratio"].ndim == 1
    assert panel.misfit_toggle.isEnabled() and not panel.misfit_points.get_visible()
    panel.misfit_toggle.setChecked(True)
    assert panel.misfit_points.get_visible() and panel.misfit_cax.get_visible()
    assert not panel.colorbar_axes["amplitude"].get_visible()
    assert len(panel.misfit_points.get_offsets()) == len(rec.misfit["x_px"])
    np.testing.assert_allclose(panel.misfit_points.get_array(), rec.misfit["deviance_ratio"])
    assert "misfit: deviance" in panel.title.text()
    panel.misfit_toggle.setChecked(False)
    assert not panel.misfit_points.get_visible() and panel.colorbar_axes["amplitude"].get_visible()

    # ---------------------------------------------------------------- refinement (PyTorch in the worker)
    if _has_torch():
        controller.form.inference.set("refine_iterations", 3)
        refine_status: list[str] = []
        controller.worker.status.connect(refine_status.append)
        assert controller.reconstruct() is not None
        _wait_finished(qtbot, controller)
        controller.worker.status.disconnect(refine_status.append)
        controller.form.inference.set("refine_iterations", 0)
        assert not controller.errors, controller.errors
        assert "refined 3 iterations" in controller.reconstruction.label
        assert any(text.startswith("refining 3/3") for text in refine_status), refine_status
        assert "network alone" in controller.reconstruction.misfit["text"]
        rec = controller.reconstruction

    # ---------------------------------------------------------------- exports
    npz = controller.export("npz", tmp_path / "out" / "rec.npz")
    png = controller.export("png", tmp_path / "out" / "rec.png")
    h5 = controller.export("h5", tmp_path / "out" / "rec.h5")
    assert npz and png and h5
    with np.load(npz, allow_pickle=False) as data:
        np.testing.assert_allclose(data["amplitude"], np.abs(rec.object), rtol=1e-6)
        np.testing.assert_allclose(data["canvas_com"], rec.canvas_com)
        np.testing.assert_array_equal(data["misfit_r_factor"], rec.misfit["r_factor"])
    from matplotlib.image import imread

    pixels = imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 100
    from ptychopinn_plugin.io import read_product

    product = read_product(h5)
    assert product.object.shape == (1, *rec.object.shape)
    assert "backend=tensorflow" in product.comments

    # ---------------------------------------------------------------- stop and keep the model
    configure_tiny(controller, nepochs=50)
    window.training_panel.preview_every.setValue(0)
    statuses: list[str] = []
    controller.worker.status.connect(statuses.append)

    def stop_when_training(text: str) -> None:
        if text == "training":
            controller.stop()

    controller.worker.status.connect(stop_when_training)
    assert controller.train() is not None
    _wait_finished(qtbot, controller)
    controller.worker.status.disconnect(stop_when_training)
    assert not controller.errors, controller.errors
    assert controller.model_summary is not None and controller.model_summary.completed is False
    assert controller.model_summary.epochs_trained < 50
    assert window.models_panel.summary_value("Training completed") == "no (stopped early)"
    assert controller.model_archive.is_file()

    # ---------------------------------------------------------------- cancel kills the child within 2 s
    pid = controller.worker.pid
    assert pid is not None and _alive(pid)
    cancelled: dict[str, float] = {}

    def cancel_when_training(text: str) -> None:
        if text == "training" and "t" not in cancelled:
            cancelled["t"] = time.perf_counter()
            controller.cancel()

    aborted: list[str] = []
    controller.worker.aborted.connect(aborted.append)
    controller.worker.status.connect(cancel_when_training)
    assert controller.train() is not None
    qtbot.waitUntil(lambda: "t" in cancelled, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not _alive(pid), timeout=2000)
    dead_after = time.perf_counter() - cancelled["t"]
    assert dead_after < 2.0
    qtbot.waitUntil(lambda: not controller.worker.busy, timeout=2000)
    assert aborted and not controller.errors
    assert window.training_panel.train_button.isEnabled()
    assert "cancelled" in window.training_panel.status_label.text()
