"""Model archives (open, save) and reconstruction exports (NPZ, PNG, product H5)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ptychopinn_gui.model.archive_summary import ModelSummary, summarise_archive
from ptychopinn_gui.model.dataset import error_text
from ptychopinn_gui.model.reconstruction import export_npz, export_png, export_product, ground_truth_crop

MODEL_FILTER = "Model archives (*.zip);;All files (*)"
EXPORT_FILTERS = {"npz": "NumPy (*.npz)", "png": "PNG image (*.png)", "h5": "Ptychodus product (*.h5)"}

logger = logging.getLogger(__name__)

__all__ = ["ModelActions"]


class ModelActions:
    """Mixed into :class:`~ptychopinn_gui.controller.app_controller.AppController` (uses its state)."""

    # ================================================================= models
    def open_model_dialog(self) -> None:
        path = self._ask_open("models", "Open model archive", MODEL_FILTER)
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path, remember: bool = True,
                   summary: Optional[ModelSummary] = None) -> Optional[ModelSummary]:
        """Validate (``read_manifest_only``) and show a model archive; ``summary`` skips re-reading
        an archive the worker has just written and summarised."""
        if summary is None:
            try:
                summary = summarise_archive(path)
            except (OSError, ValueError, KeyError) as exc:
                self.show_error("Cannot open model", error_text(exc))
                return None
        self.model_archive = Path(path)
        self.model_summary = summary
        self.model_unsaved = False
        self.window.models_panel.show_summary(summary)
        if remember:
            self._remember(Path(path))
        self.model_changed.emit()
        self._update_actions()
        return summary

    def save_model_dialog(self) -> None:
        if self.model_archive is None:
            return
        path = self._ask_save("models", "Save model archive", MODEL_FILTER, "wts.h5.zip")
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> Optional[Path]:
        from ptychopinn_plugin.archive import copy_archive

        if self.model_archive is None:
            return None
        try:
            written = copy_archive(self.model_archive, path)
        except (OSError, ValueError) as exc:
            self.show_error("Cannot save model", str(exc))
            return None
        self.model_unsaved = False
        self._status(f"saved model to {written}")
        self._remember(written)
        return written

    # ================================================================= exports
    def export_dialog(self, fmt: str) -> None:
        if self.reconstruction is None:
            return
        name = {"npz": "reconstruction.npz", "png": "reconstruction.png", "h5": "reconstruction.h5"}[fmt]
        path = self._ask_save("exports", f"Export reconstruction ({fmt.upper()})", EXPORT_FILTERS[fmt], name)
        if path:
            self.export(fmt, path)

    def export(self, fmt: str, path: str | Path) -> Optional[Path]:
        rec = self.reconstruction
        if rec is None:
            return None
        dataset = self.test_data if rec.extra.get("dataset") == "test" else self.train_data
        try:
            if fmt == "npz":
                written = export_npz(rec, path)
            elif fmt == "png":
                truth = ground_truth_crop(rec, dataset.raw.objectGuess) if dataset is not None else None
                written = export_png(rec, path, truth)
            elif fmt == "h5":
                if dataset is None:
                    raise ValueError("the dataset of this reconstruction is no longer open")
                written = export_product(rec, path, dataset)
            else:
                raise ValueError(f"unknown export format {fmt!r}; allowed: npz, png, h5")
        except (OSError, ValueError, KeyError) as exc:
            self.show_error("Export failed", str(exc))
            return None
        self._status(f"exported {written}")
        return written
