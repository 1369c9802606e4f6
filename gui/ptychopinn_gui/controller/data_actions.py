"""Opening datasets: NPZ, product + diffraction, the sample, drag and drop, domain changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ptychopinn_gui.model.dataset import (
    LoadedDataset,
    error_text,
    is_product_path,
    load_npz_dataset,
    load_product_dataset,
)
from ptychopinn_gui.model.sample import SAMPLE_CONFIG, prepare_sample

NPZ_FILTER = "NumPy datasets (*.npz);;All files (*)"
PRODUCT_FILTER = "Ptychodus products (*.h5 *.hdf5);;All files (*)"
DIFFRACTION_FILTER = "Diffraction data (*.h5 *.hdf5 *.nxs *.npz *.npy);;All files (*)"

logger = logging.getLogger(__name__)

__all__ = ["DataActions"]


class DataActions:
    """Mixed into :class:`~ptychopinn_gui.controller.app_controller.AppController` (uses its state)."""

    # ================================================================= data
    def open_dataset_dialog(self, target: str = "train") -> None:
        path = self._ask_open("data", f"Open {target} dataset", NPZ_FILTER + ";;" + PRODUCT_FILTER)
        if path:
            if is_product_path(path):
                self.open_product_dialog(target, path)
            else:
                self.load_dataset(path, target)

    def open_product_dialog(self, target: str = "train", product: Optional[str] = None) -> None:
        product = product or self._ask_open("data", "Open Ptychodus product", PRODUCT_FILTER)
        if not product:
            return
        diffraction = self._ask_open("data", "Diffraction file for this product (Cancel: use the product's "
                                             "/raw_data)", DIFFRACTION_FILTER)
        self.load_product(product, diffraction, target)

    def _box(self, target: str):  # noqa: ANN202 - small internal helper
        panel = self.window.data_panel
        return panel.train_box if target == "train" else panel.test_box

    def load_dataset(self, path: str | Path, target: str = "train") -> Optional[LoadedDataset]:
        """Open a canonical NPZ as the training or test dataset; errors are shown inline."""
        domain = self.window.data_panel.domain()
        with self._busy_cursor():
            try:
                loaded = load_npz_dataset(path, domain)
            except (OSError, KeyError, ValueError, TypeError) as exc:
                self._box(target).show_error(error_text(exc))
                logger.error("cannot open %s: %s", path, error_text(exc))
                return None
        self._set_dataset(loaded, target)
        self._remember(Path(path))
        return loaded

    def load_product(self, product: str | Path, diffraction: Optional[str | Path], target: str = "train"
                     ) -> Optional[LoadedDataset]:
        domain = self.window.data_panel.domain()
        with self._busy_cursor():
            try:
                loaded = load_product_dataset(product, diffraction, domain, self.session.data_dir)
            except (OSError, KeyError, ValueError, TypeError) as exc:
                self._box(target).show_error(error_text(exc))
                logger.error("cannot open product %s: %s", product, error_text(exc))
                return None
        self._set_dataset(loaded, target)
        self._remember(*[Path(p) for p in loaded.source_paths])
        return loaded

    def _set_dataset(self, loaded: LoadedDataset, target: str) -> None:
        box = self._box(target)
        box.show_error("")
        self.window.data_panel.show_summary(target, loaded.summary)
        if target == "train":
            self.train_data = loaded
            self.window.data_panel.show_thumbnails(loaded.summary)
            self.form.data_n = loaded.summary.N
            if loaded.summary.N in (64, 128, 256) and self.form.model.get("N") != loaded.summary.N:
                self.form.model.set("N", loaded.summary.N)
            nphotons = loaded.summary.metadata_nphotons
            if nphotons is not None and nphotons > 0 and self.form.training.get("nphotons") != nphotons:
                # Data §1.4: nphotons should be the photons per pattern; the file states it.
                logger.info("nphotons set to %.6g from the dataset metadata (was %.6g)", nphotons,
                            self.form.training.get("nphotons"))
                self.form.training.set("nphotons", float(nphotons))
            self.window.setWindowTitle(f"ptychopinn — {Path(loaded.source_paths[0]).name}")
        else:
            self.test_data = loaded
            self.form.test_n = loaded.summary.N
        self._status(f"loaded {target} data: {loaded.summary.n_patterns} patterns, N = {loaded.summary.N}")
        self.validate()
        self.dataset_loaded.emit(target)

    def clear_test_data(self) -> None:
        self.test_data = None
        self.form.test_n = None
        self.window.data_panel.show_summary("test", None)
        self.window.data_panel.test_box.show_error("")
        self.dataset_loaded.emit("test")
        self.validate()

    def reload_with_domain(self, domain: str) -> None:
        """Re-read the open datasets with the newly chosen diffraction domain."""
        for target, loaded in (("train", self.train_data), ("test", self.test_data)):
            if loaded is None:
                continue
            if loaded.product is not None:
                diffraction = loaded.source_paths[1] if len(loaded.source_paths) > 1 else None
                self.load_product(loaded.source_paths[0], diffraction, target)
            else:
                self.load_dataset(loaded.source_paths[0], target)

    def open_paths(self, paths: list[str]) -> None:
        """Drag and drop / recent files: NPZ files (first → training, second → test) or a product + diffraction."""
        existing = [p for p in paths if Path(p).exists()]
        for missing in sorted(set(paths) - set(existing)):
            self.recent.remove(missing)
            logger.warning("file not found: %s", missing)
            self._box("train").show_error(f"file not found: {missing}")
        products = [p for p in existing if is_product_path(p)]
        others = [p for p in existing if not is_product_path(p)]
        if products:
            diffraction = others[0] if others else (products[1] if len(products) > 1 else None)
            self.load_product(products[0], diffraction, "train")
            return
        for path in [p for p in others if p.endswith(".zip")]:
            self.open_model(path)
        for i, path in enumerate([p for p in others if not p.endswith(".zip")][:2]):
            self.load_dataset(path, "train" if i == 0 else "test")

    def load_sample(self, directory: Optional[str | Path] = None, config: Any = SAMPLE_CONFIG) -> None:
        """Simulate (or reuse) the built-in sample and open its train/test files."""
        with self._busy_cursor():
            train, test = prepare_sample(directory, config)
        self.window.data_panel.set_domain("amplitude")
        self.load_dataset(train, "train")
        self.load_dataset(test, "test")
