"""Panels, bindings, settings and conventions of the main window (no worker runs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptychopinn_plugin.config import ModelConfig, TrainingConfig

pytestmark = [pytest.mark.gui]


def test_parameter_forms_are_generated_from_the_dataclasses(app_window):
    from PyQt5.QtWidgets import QComboBox, QSpinBox

    window, controller = app_window
    panel = window.parameter_panel
    for owner, page in panel.forms.items():
        params = controller.form.sets[owner]
        assert list(page.rows) == params.names()
        for spec in params.specs:
            assert spec.doc.split()[0] in page.editor(spec.name).toolTip()
    n = panel.forms["ModelConfig"].editor("N").input
    assert isinstance(n, QComboBox) and [n.itemData(i) for i in range(n.count())] == [64, 128, 256]
    nepochs = panel.forms["TrainingConfig"].editor("nepochs").input
    assert isinstance(nepochs, QSpinBox) and nepochs.minimum() == 1  # "> 0" in TrainingConfig validation
    seed = panel.forms["TrainingConfig"].editor("seed").input
    assert seed.specialValueText() == "(none)" and seed.value() == seed.minimum()
    mae = panel.forms["TrainingConfig"].editor("mae_weight").input
    assert (mae.minimum(), mae.maximum()) == (0.0, 1.0)
    nphotons = panel.forms["TrainingConfig"].editor("nphotons").input
    assert nphotons.text() == "1000000000" or nphotons.text() == "1e+09"


def test_invalid_values_are_flagged_inline_with_the_dataclass_message(app_window, tiny_sample):
    window, controller = app_window
    assert controller.load_dataset(tiny_sample[0], "train") is not None
    page = window.parameter_panel.forms["TrainingConfig"]
    train_button = window.training_panel.train_button
    assert train_button.isEnabled()

    page.editor("realspace_mae_weight").input.setValue(0.5)  # a user edit in the spin box
    assert controller.form.training.get("realspace_mae_weight") == 0.5
    with pytest.raises(ValueError) as exc:
        TrainingConfig(model=ModelConfig(), realspace_mae_weight=0.5)
    message = page.rows["realspace_mae_weight"].message
    assert not message.isHidden() and message.text() == str(exc.value)
    assert "border" in page.editor("realspace_mae_weight").input.styleSheet()
    assert not train_button.isEnabled()
    assert "invalid" in train_button.toolTip() or "fix" in train_button.toolTip()
    assert controller.train() is None and not controller.worker.busy

    page.editor("realspace_weight").input.setValue(1.0)
    assert message.isHidden()
    assert train_button.isEnabled()


def test_n_follows_the_data_and_mismatch_is_flagged(app_window, tiny_sample):
    window, controller = app_window
    model_page = window.parameter_panel.forms["ModelConfig"]
    combo = model_page.editor("N").input
    combo.setCurrentIndex(combo.findData(128))
    assert controller.load_dataset(tiny_sample[0], "train") is not None
    assert controller.form.model.get("N") == 64 and combo.currentData() == 64
    combo.setCurrentIndex(combo.findData(256))
    assert "64×64" in model_page.rows["N"].message.text()
    assert not window.training_panel.train_button.isEnabled()


def test_backend_selector_and_torch_tab(app_window):
    window, controller = app_window
    panel = window.parameter_panel
    torch_index = panel.tabs.indexOf(panel.forms["PyTorchExecutionConfig"])
    assert controller.form.backend == "tensorflow" and not panel.tabs.isTabEnabled(torch_index)
    panel.backend_combo.setCurrentIndex(panel.backend_combo.findData("pytorch"))
    assert controller.form.backend == "pytorch" and panel.tabs.isTabEnabled(torch_index)
    assert controller.form.training_config().backend == "pytorch"
    assert "not detected" in panel.device_label.text()


def test_data_panel_summary_thumbnails_and_inline_errors(app_window, tiny_sample, tmp_path):
    window, controller = app_window
    panel = window.data_panel
    assert controller.load_dataset(tiny_sample[0], "train") is not None
    assert panel.summary_value("train", "Diffraction patterns") == "64"
    assert panel.summary_value("train", "Pattern size N") == "64 × 64"
    assert panel.summary_value("train", "Ground truth object") == "128 × 128 (objectGuess)"
    titles = [ax.get_title() for ax in panel.figure.axes if ax.get_title()]
    assert titles == ["probe amplitude", "probe phase", "scan positions (64)"]
    scan_ax = next(ax for ax in panel.figure.axes if ax.get_title().startswith("scan positions"))
    scatter = scan_ax.collections[0].get_offsets()
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        np.testing.assert_allclose(scatter[:, 0], npz["xcoords"])

    broken = tmp_path / "broken.npz"
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        np.savez(broken, **{k: npz[k] for k in npz.files if k != "probeGuess"})
    assert controller.load_dataset(broken, "test") is None
    error = panel.test_box.error_label
    assert not error.isHidden() and "probeGuess" in error.text()
    assert controller.test_data is None
    assert controller.load_dataset(tiny_sample[1], "test") is not None
    assert error.isHidden()


def test_domain_choice_reloads_the_data(app_window, tiny_sample):
    window, controller = app_window
    assert controller.load_dataset(tiny_sample[0], "train") is not None
    amplitude = controller.train_data.summary.photons_mean
    window.data_panel.domain_combo.setCurrentIndex(window.data_panel.domain_combo.findData("intensity"))
    assert controller.train_data.diffraction_domain == "intensity"
    with np.load(tiny_sample[0], allow_pickle=False) as npz:
        expected = float(np.mean(npz["diffraction"].astype(np.float64).sum(axis=(1, 2))))
    assert controller.train_data.summary.photons_mean == pytest.approx(expected, rel=1e-6)
    assert controller.train_data.summary.photons_mean != pytest.approx(amplitude)
    assert window.data_panel.summary_value("train", "Domain read as") == "intensity"


def test_drag_and_drop_opens_datasets(qtbot, app_window, tiny_sample):
    from PyQt5.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PyQt5.QtGui import QDragEnterEvent, QDropEvent

    window, controller = app_window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_sample[0])), QUrl.fromLocalFile(str(tiny_sample[1]))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(drop)
    assert controller.train_data is not None and controller.train_data.npz_path == tiny_sample[0]
    assert controller.test_data is not None and controller.test_data.npz_path == tiny_sample[1]


def test_product_plus_diffraction_file(app_window, tiny_sample, tmp_path):
    from ptychopinn_plugin.data.raw_data import RawData
    from ptychopinn_plugin.io import raw_data_to_product, write_product

    window, controller = app_window
    raw = RawData.from_file(tiny_sample[0])
    product = write_product(tmp_path / "p.h5", raw_data_to_product(raw, pixel_size_m=1e-8, name="p"))
    counts = tmp_path / "counts.npy"
    np.save(counts, np.round(raw.diff3d.astype(np.float64) ** 2).astype(np.uint32))
    window.data_panel.set_domain("intensity")
    loaded = controller.load_product(product, counts, "train")
    assert loaded is not None and loaded.product is not None and loaded.worker_domain == "amplitude"
    np.testing.assert_allclose(loaded.raw.diff3d, raw.diff3d, atol=0.02)
    assert window.data_panel.summary_value("train", "Diffraction patterns") == "64"


def test_settings_recent_files_and_geometry_persist(qtbot, gui_env, tiny_sample):
    from ptychopinn_gui.settings import AppSettings
    from ptychopinn_gui.window import create_main_window

    window, controller = create_main_window(AppSettings())
    qtbot.addWidget(window)
    window.show()
    controller.load_dataset(tiny_sample[0], "train")
    controller.load_dataset(tiny_sample[1], "test")
    window.resize(1111, 777)
    window.training_panel.preview_every.setValue(3)
    window.close()
    ini = AppSettings().file_name
    assert ini.startswith(str(gui_env["settings_dir"]))
    text = open(ini).read()
    assert "geometry" in text and str(tiny_sample[1]) in text

    again, controller2 = create_main_window(AppSettings())
    qtbot.addWidget(again)
    assert controller2.recent.items()[:2] == [str(tiny_sample[1].resolve()), str(tiny_sample[0].resolve())]
    assert [a.text() for a in again.recent_menu.actions()][:2] == controller2.recent.items()[:2]
    assert again.size().width() == 1111 and again.training_panel.preview_every.value() == 3
    again.recent_menu.actions()[1].trigger()
    assert controller2.train_data is not None and controller2.train_data.npz_path == tiny_sample[0].resolve()
    again.force_close = True
    again.close()


def test_standard_shortcuts(app_window):
    from PyQt5.QtGui import QKeySequence

    window, _ = app_window
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.Open)
    assert window.save_model_action.shortcut() == QKeySequence(QKeySequence.Save)
    expected = {window.quit_action: "Ctrl+Q", window.train_action: "Ctrl+T",
                window.reconstruct_action: "Ctrl+R", window.stop_action: "Esc"}
    for action, text in expected.items():
        assert action.shortcut().toString() == text


def test_about_lists_versions_without_importing_frameworks(app_window, framework_guard):
    from importlib import metadata

    from ptychopinn_gui.view.dialogs import about_text, show_about

    window, _ = app_window
    text = about_text()
    for dist in ("numpy", "PyQt5", "torch"):
        assert metadata.version(dist) in text
    box = show_about(window)
    assert box.isVisible()
    box.close()
    framework_guard()


def test_preview_phase_colormap_shared_axes_and_pixel_readout(qtbot, app_window):
    from matplotlib.backend_bases import MouseEvent

    from ptychopinn_gui.model.reconstruction import Reconstruction

    window, _ = app_window
    panel = window.image_panel
    rng = np.random.default_rng(1)
    obj = (rng.random((30, 40)) + 0.1) * np.exp(1j * rng.uniform(-3, 3, (30, 40)))
    rec = Reconstruction(object=obj.astype(np.complex64), canvas_com=(20, 15), backend="tensorflow", label="unit")
    panel.show_reconstruction(rec, truth=obj.astype(np.complex64))
    phase = panel.images["phase"]
    assert phase.get_cmap().name == "twilight" and phase.get_clim() == (-math.pi, math.pi)
    assert panel.images["amplitude"].get_clim() == pytest.approx((np.abs(obj).min(), np.abs(obj).max()), rel=1e-6)
    assert panel.axes["truth amplitude"].get_visible()

    panel.axes["phase"].set_xlim(5, 15)  # zoom one: all follow
    for name in ("amplitude", "truth amplitude", "truth phase"):
        assert panel.axes[name].get_xlim() == (5, 15)

    panel.canvas.draw()
    ax = panel.axes["amplitude"]
    ax.set_xlim(-0.5, 39.5)
    x, y = ax.transData.transform((7, 12))
    MouseEvent("motion_notify_event", panel.canvas, x, y)._process()
    readout = window.pixel_label.text()
    assert readout.startswith("x 7, y 12:")
    assert f"amplitude {abs(obj[12, 7]):.4g}" in readout and f"phase {np.angle(obj[12, 7]):.4g}" in readout

    panel.show_reconstruction(rec, truth=None)
    assert not panel.axes["truth amplitude"].get_visible()


def test_nphotons_follows_the_dataset_metadata(app_window, tiny_sample):
    window, controller = app_window
    assert controller.form.training.get("nphotons") == 1e9  # TrainingConfig default
    controller.load_dataset(tiny_sample[0], "train")
    assert controller.form.training.get("nphotons") == 1e6  # stated in the sample's _metadata
    editor = window.parameter_panel.forms["TrainingConfig"].editor("nphotons")
    assert editor.value() == 1e6


def test_loss_plot_updates_lines_in_place_and_picks_the_scale(app_window):
    window, _ = app_window
    plot = window.training_panel.loss_plot
    line = plot.train_line
    plot.set_curves([0, 1, 2], [3.0, 2.0, 1.5], [3.5, float("nan"), 2.5])
    assert plot.train_line is line and plot.ax.get_yscale() == "log"
    assert list(plot.val_line.get_data()[0]) == [1, 3]  # the epoch without validation is skipped
    plot.set_curves([0, 1], [-3.0e6, -3.1e6], [-3.2e6, -3.3e6])
    assert plot.ax.get_yscale() == "linear"
    low, high = plot.ax.get_ylim()
    assert low <= -3.3e6 and high >= -3.0e6
