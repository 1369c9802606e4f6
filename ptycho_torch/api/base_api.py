"""The classes Ptychodus 1.7's PtychoPINN-Torch child process drives (§4T.3.3).

Training (§4T.4.3): ``ConfigManager`` → ``PtychoDataLoader(data_dir, …, output_dir)`` →
``PtychoModel._new_model(PtychoPINN_Lightning, cm)`` → ``Trainer._from_lightning(…)`` →
``trainer.train()`` → ``find_best_checkpoint(data_loader.output_dir)``.
Reconstruction (§4T.6.1): ``PtychoModel._extract_configs_from_checkpoint`` →
``PtychoPINN_Lightning.load_from_checkpoint`` → ``ConfigManager.from_loaded_model`` →
``PtychoDataLoader.from_np`` → ``InferenceEngine.predict_and_stitch``.

Importing this module loads no torch or lightning (they are imported inside the methods
that need them), so ``ConfigManager`` and the checks also work in a light process.  Every
error raised here is a builtin exception type: Ptychodus pickles child exceptions back to
its GUI process (§4T.2 rule 5).
"""

from __future__ import annotations

import datetime as _dt
import logging
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .. import _training_data as training_data
from .. import config_bridge
from ..config_params import DataConfig, DatagenConfig, InferenceConfig, ModelConfig, TrainingConfig

logger = logging.getLogger(__name__)

__all__ = ["ConfigManager", "DataloaderFormats", "InferenceEngine", "PtychoDataLoader", "PtychoModel", "Trainer"]


def _version() -> str:
    from ptychopinn_plugin._version import __version__

    return str(__version__)


TORCH_EXTRA = ("torch", "lightning", "tensordict")


def require_torch_extra() -> None:
    """``RuntimeError`` naming the extra when a PyTorch-extra package is missing (§4T.1);
    ``find_spec`` only, so nothing is imported."""
    from importlib.util import find_spec

    missing = [name for name in TORCH_EXTRA if find_spec(name) is None]
    if missing:
        raise RuntimeError(f"PtychoPINN-Torch needs the PyTorch extra: pip install 'ptychopinn[torch]' "
                           f"(missing: {', '.join(missing)})")


class ConfigManager:
    """The five configs of one run; construction refuses every unsupported setting at once
    (one ``ValueError``, §4T.7.5) and logs the accepted-but-ineffective ones."""

    def __init__(self, data_config: Any = None, model_config: Any = None, training_config: Any = None,
                 inference_config: Any = None, datagen_config: Any = None) -> None:
        require_torch_extra()
        self.data_config = DataConfig.from_dict(data_config if data_config is not None else {})
        self.model_config = ModelConfig.from_dict(model_config if model_config is not None else {})
        self.training_config = TrainingConfig.from_dict(training_config if training_config is not None else {})
        self.inference_config = InferenceConfig.from_dict(inference_config if inference_config is not None else {})
        self.datagen_config = datagen_config if datagen_config is not None else DatagenConfig()
        problems = config_bridge.support_problems(self.data_config, self.model_config, self.training_config,
                                                  self.inference_config)
        if problems:
            raise ValueError(f"PtychoPINN-Torch settings not supported by ptychopinn {_version()}:\n"
                             + "\n".join(f" - {p}" for p in problems))
        config_bridge.warn_accepted_settings(self.data_config, self.model_config, self.training_config,
                                             self.inference_config)

    n_experiments: int = 1
    """Experiments the model was trained on (from the checkpoint; bounds 'Experiment Number')."""

    @classmethod
    def from_loaded_model(cls, ptycho_model: "PtychoModel") -> "ConfigManager":
        manager = cls(data_config=ptycho_model.data_config, model_config=ptycho_model.model_config,
                      training_config=ptycho_model.training_config, inference_config=ptycho_model.inference_config,
                      datagen_config=DatagenConfig())
        info = getattr(getattr(ptycho_model, "model", None), "checkpoint_info", None) or {}
        manager.n_experiments = int(info.get("n_experiments", 1))
        return manager

    def validate_arch_compatibility(self, ptycho_model: "PtychoModel") -> None:
        """``ValueError`` unless ``ptycho_model.model`` is a ``PtychoPINN_Lightning`` built with
        this manager's architecture (N, C, filters, object/probe big, activation, mode, offset, jitter)."""
        from ..model import PtychoPINN_Lightning

        module = getattr(ptycho_model, "model", None)
        if module is None:
            raise ValueError("the PtychoModel holds no network (model is None)")
        if not isinstance(module, PtychoPINN_Lightning):
            raise ValueError(f"the PtychoModel holds a {type(module).__name__}, not a PtychoPINN_Lightning")
        ours = (self.data_config, self.model_config)
        theirs = (module.data_config, module.model_config)
        fields = (("data", "N"), ("data", "C"), ("model", "n_filters_scale"), ("model", "object_big"),
                  ("model", "probe_big"), ("model", "amp_activation"), ("model", "mode"), ("model", "offset"),
                  ("model", "max_position_jitter"))
        differences = []
        for owner, name in fields:
            index = 0 if owner == "data" else 1
            a, b = getattr(ours[index], name), getattr(theirs[index], name)
            if a != b:
                differences.append(f"{name}: configs {a!r}, network {b!r}")
        if differences:
            raise ValueError("the network does not match its configs: " + "; ".join(differences))


class DataloaderFormats(Enum):
    """Data formats of :class:`PtychoDataLoader`; Ptychodus asks for 'lightning_only_module'."""

    LIGHTNING_ONLY_MODULE = "lightning_only_module"


def _run_directory(output_dir: Path) -> Path:
    """``output_dir/run_YYYYmmdd-HHMMSS`` (local time; ``_2``, ``_3``… on collision), created."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = output_dir / f"run_{stamp}"
    suffix = 2
    while True:
        try:
            candidate.mkdir()
            return candidate.resolve()
        except FileExistsError:
            candidate = output_dir / f"run_{stamp}_{suffix}"
            suffix += 1


class PtychoDataLoader:
    """Grouped, normalised scans for training (from a directory of exported ``.npz`` files,
    §4T.4.4) or for inference (from Ptychodus's arrays, :meth:`from_np`, §4T.6.2)."""

    def __init__(self, data_dir: Any, config_manager: ConfigManager,
                 data_format: DataloaderFormats = DataloaderFormats.LIGHTNING_ONLY_MODULE,
                 output_dir: Any = None) -> None:
        if not isinstance(data_format, DataloaderFormats) or data_format is not DataloaderFormats.LIGHTNING_ONLY_MODULE:
            raise ValueError(f"data_format = {data_format!r} is not supported; allowed: "
                             f"DataloaderFormats('lightning_only_module')")
        cm = config_manager
        self.config_manager = cm
        data, model = cm.data_config, cm.model_config
        n, g = int(data.N), config_bridge.gridsize_of(data)
        files = training_data.find_training_files(Path(data_dir))
        if len(files.train) > 1:
            raise ValueError("several training files were found: " + ", ".join(p.name for p in files.train)
                             + "; ptychopinn's in-memory PyTorch training takes one scan per run: keep one, or "
                             "name it train_data.npz (with test_data.npz for validation)")
        if model.num_datasets != len(files.train):
            logger.warning("'Datasets' = %d but %d training file(s) were found", model.num_datasets, len(files.train))
        path = files.train[0]
        raw, domain = training_data.read_training_file(path, n)
        supervised = model.mode == "Supervised"
        if supervised and not training_data.has_usable_ground_truth(raw):
            raise ValueError(f"Supervised training needs a ground-truth object; objectGuess in {path} is constant. "
                             "Reconstruct with an iterative method first, then export again")
        self.nphotons = training_data.nphotons_of(raw, domain, path)
        self.diffraction_domain = domain
        self.training_files = [path.name]
        seed = int(cm.training_config.seed)
        self.container = training_data.grouped_container(raw, n, g, int(data.K), self.nphotons, seed=seed)
        self.validation_container = None
        if files.validation is not None:
            val_raw, _ = training_data.read_training_file(files.validation, n)
            self.validation_container = training_data.grouped_container(val_raw, n, g, int(data.K), self.nphotons,
                                                                        seed=seed)
        self.positions_xy: Optional[np.ndarray] = None
        self.output_dir = _run_directory(Path(output_dir if output_dir is not None else data_dir))
        logger.info("PtychoPINN-Torch training data: %s (%d groups of %d, %s domain, nphotons %.6g); run directory %s",
                    path, len(self.container), g * g, domain, self.nphotons, self.output_dir)

    @classmethod
    def from_np(cls, diff_patterns: Any, probe: Any, positions: Any, config_manager: ConfigManager) -> "PtychoDataLoader":
        """Ptychodus's inference inputs: counts ``(M, N, N)`` (possibly read-only), probe
        ``(modes, N, N)``, positions ``(M, 2)`` as (y, x) input-object pixels."""
        cm = config_manager
        data = cm.data_config
        n, g = int(data.N), config_bridge.gridsize_of(data)
        experiments = int(cm.n_experiments)
        if cm.inference_config.experiment_number >= experiments:
            raise ValueError(f"'Experiment Number' = {cm.inference_config.experiment_number} but the model was "
                             f"trained on {experiments} experiment(s)")
        raw = training_data.arrays_from_ptychodus(diff_patterns, probe, positions, n, g * g)
        loader = cls.__new__(cls)
        loader.config_manager = cm
        loader.nphotons = training_data.DEFAULT_NPHOTONS
        loader.diffraction_domain = "intensity"
        loader.training_files = []
        loader.container = training_data.grouped_container(raw, n, g, int(data.K), loader.nphotons,
                                                           seed=int(cm.training_config.seed), sequential=True)
        loader.validation_container = None
        loader.positions_xy = np.column_stack([raw.xcoords, raw.ycoords])
        loader.output_dir = None
        return loader


class PtychoModel:
    """The four configs and the network (``model``, assigned by the caller)."""

    def __init__(self, model_config: Any = None, data_config: Any = None, training_config: Any = None,
                 inference_config: Any = None) -> None:
        self.model_config = model_config
        self.data_config = data_config
        self.training_config = training_config
        self.inference_config = inference_config
        self.model: Any = None

    @staticmethod
    def _extract_configs_from_checkpoint(path: Any) -> tuple[DataConfig, ModelConfig, TrainingConfig, InferenceConfig]:
        """``(DataConfig, ModelConfig, TrainingConfig, InferenceConfig)`` stored in a checkpoint
        (loaded with ``weights_only=True``; pickled objects are refused, §4T.5.3)."""
        require_torch_extra()
        from ptychopinn_plugin.backends.torch.stock_entry import load_checkpoint

        stored = load_checkpoint(path)["ptycho_torch"].get("configs", {})
        return (DataConfig.from_dict(stored.get("data_config", {})), ModelConfig.from_dict(stored.get("model_config", {})),
                TrainingConfig.from_dict(stored.get("training_config", {})),
                InferenceConfig.from_dict(stored.get("inference_config", {})))

    @classmethod
    def _new_model(cls, model: Any, config_manager: ConfigManager) -> "PtychoModel":
        cm = config_manager
        ptycho_model = cls(model_config=cm.model_config, data_config=cm.data_config,
                           training_config=cm.training_config, inference_config=cm.inference_config)
        ptycho_model.model = model(model_config=cm.model_config, data_config=cm.data_config,
                                   training_config=cm.training_config, inference_config=cm.inference_config)
        return ptycho_model


class Trainer:
    """Lightning training of a :class:`PtychoModel` on a :class:`PtychoDataLoader` (§4T.4.5)."""

    def __init__(self, model: PtychoModel, dataloader: PtychoDataLoader, config_manager: ConfigManager,
                 trainer: Any, datamodule: Any) -> None:
        self.model = model
        self.dataloader = dataloader
        self.config_manager = config_manager
        self._trainer = trainer
        self._datamodule = datamodule

    @classmethod
    def _from_lightning(cls, model: PtychoModel, dataloader: PtychoDataLoader, orchestration: str = "lightning",
                        config_manager: Optional[ConfigManager] = None) -> "Trainer":
        """Build the Lightning trainer now (Ptychodus appends a callback to ``_trainer.callbacks``)."""
        if str(orchestration).casefold() != "lightning":
            raise ValueError(f"orchestration = {orchestration!r} is not supported; allowed: 'lightning'")
        from ptychopinn_plugin.backends.torch.datamodule import BatchDataModule, GroupBatchDataset, PtychoDataModule
        from ptychopinn_plugin.backends.torch.execution import resolve_precision
        from ptychopinn_plugin.backends.torch.seeding import seed_everything
        from ptychopinn_plugin.backends.torch.stock_entry import build_stock_trainer
        from ptychopinn_plugin.physics.intensity import intensity_scale
        from ptychopinn_plugin.physics.probe import normalise_probe

        cm = config_manager if config_manager is not None else dataloader.config_manager
        training = cm.training_config
        if training.strategy.casefold() != "auto":
            logger.info("'Distributed Strategy' = %r is recorded but unused: one device trains in this process",
                        training.strategy)
        accelerator = config_bridge.accelerator_for_device(training.device)
        exe = config_bridge.to_execution_config(training, cm.inference_config, accelerator=accelerator)
        seed = int(training.seed)
        seed_everything(seed)
        module = model.model
        n = int(cm.data_config.N)
        s = intensity_scale(dataloader.nphotons, n)
        module.install_physics(s, normalise_probe(dataloader.container.probe, cm.data_config.probe_scale))
        module.checkpoint_info = {
            "nphotons": float(dataloader.nphotons), "diffraction_domain": str(dataloader.diffraction_domain),
            "n_experiments": 1, "training_files": list(dataloader.training_files), "seed": seed,
        }
        supervised = cm.model_config.mode == "Supervised"
        options = {"num_workers": exe.num_workers}
        if dataloader.validation_container is None:
            datamodule = PtychoDataModule(dataloader.container, batch_size=int(training.batch_size),
                                          intensity_scale=s, seed=seed, supervised=supervised, validation=True,
                                          **options)
        else:
            train_set = GroupBatchDataset(dataloader.container, slice(0, len(dataloader.container)),
                                          intensity_scale=s, supervised=supervised)
            val_set = GroupBatchDataset(dataloader.validation_container,
                                        slice(0, len(dataloader.validation_container)), intensity_scale=s,
                                        supervised=supervised)
            datamodule = BatchDataModule(train_set, val_set, batch_size=int(training.batch_size), seed=seed,
                                         **options)
        precision, reason = resolve_precision(exe.precision, accelerator)
        logger.info("PtychoPINN-Torch: %s on %s, precision %s (%s), s = %.6g, %d epochs", cm.model_config.mode,
                    accelerator, precision, reason, s, training.epochs)
        trainer = build_stock_trainer(run_dir=Path(dataloader.output_dir), accelerator=accelerator,
                                      precision=precision, exe=exe, epochs=int(training.epochs),
                                      has_validation=datamodule.has_validation)
        return cls(model, dataloader, cm, trainer, datamodule)

    def train(self, orchestration: str = "lightning", experiment_name: str = "") -> None:
        """``fit`` on the trainer built by :meth:`_from_lightning` (callbacks appended since are kept)."""
        if str(orchestration).casefold() != "lightning":
            raise ValueError(f"orchestration = {orchestration!r} is not supported; allowed: 'lightning'")
        if experiment_name:
            logger.info("experiment_name = %r: no experiment tracking in ptychopinn (recorded only)", experiment_name)
        from ptychopinn_plugin.backends.torch.stock_entry import finalise_checkpoint

        from ..lightning_utils import find_best_checkpoint

        self._trainer.fit(self.model.model, datamodule=self._datamodule)
        best = find_best_checkpoint(Path(self.dataloader.output_dir))
        if best is not None and not self._trainer.interrupted:
            finalise_checkpoint(best, self.model.model)
        callback = self._trainer.checkpoint_callback
        score = getattr(callback, "best_model_score", None)
        logger.info("PtychoPINN-Torch: best checkpoint %s (%s=%s)", best, getattr(callback, "monitor", "?"),
                    "n/a" if score is None else f"{float(score):.6g}")


class InferenceEngine:
    """Network pass and stitching onto the frame Ptychodus expects (§4T.6.3, §4T.6.4)."""

    def __init__(self, config_manager: ConfigManager, ptycho_model: PtychoModel) -> None:
        self.config_manager = config_manager
        self.ptycho_model = ptycho_model

    def predict_and_stitch(self, data_loader: PtychoDataLoader) -> np.ndarray:
        """complex64 2-D ``(H, W)``, C-contiguous, on the host."""
        import torch

        from ptychopinn_plugin.backends.torch.stock_entry import predict_and_stitch_frame
        from ptychopinn_plugin.physics.probe import normalise_probe
        from ptychopinn_plugin.physics.stitching import StitchFrame, offsets_to_xy

        cm = self.config_manager
        module = self.ptycho_model.model
        if module is None:
            raise ValueError("the PtychoModel holds no network; load a checkpoint first")
        if data_loader.positions_xy is None:
            raise ValueError("this PtychoDataLoader holds training data; build one with PtychoDataLoader.from_np")
        device = "cpu"
        if cm.training_config.device.casefold() in ("cuda", "gpu") and torch.cuda.is_available():
            device = "cuda"
        module.to(device)
        container = data_loader.container
        frame = StitchFrame.around_positions(data_loader.positions_xy, int(cm.data_config.N))
        image = predict_and_stitch_frame(
            module, container.X, container.coords_nominal, offsets_to_xy(container.global_offsets), frame,
            batch_size=cm.inference_config.batch_size, M=cm.inference_config.middle_trim,
            patch_weighting=cm.inference_config.patch_weighting,
            weight_probe=normalise_probe(container.probe, cm.data_config.probe_scale), device=device,
        )
        logger.info("PtychoPINN-Torch: reconstructed %d groups onto a %d×%d frame", len(container), *image.shape)
        return np.ascontiguousarray(image, dtype=np.complex64)

