"""``ptycho_torch.model.PtychoPINN_Lightning``: the LightningModule Ptychodus's stock entry
trains and loads (§4T.3.4), built from the four ``ptycho_torch`` configs.

A thin subclass of the torch backend's ``StockLightningModule``: the configs are translated
by :mod:`ptycho_torch.config_bridge` and stored as plain dicts in every checkpoint.  Loading
overrides Lightning's ``load_from_checkpoint`` so it always uses ``weights_only=True``
(§4T.5.4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from ptychopinn_plugin.backends.torch.stock_entry import StockLightningModule, load_checkpoint

from . import config_bridge
from .config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig

__all__ = ["PtychoPINN_Lightning"]


class PtychoPINN_Lightning(StockLightningModule):
    """The PINN (``mode='Unsupervised'``) or the supervised baseline (``'Supervised'``)."""

    def __init__(self, model_config: Any, data_config: Any, training_config: Any, inference_config: Any) -> None:
        model = ModelConfig.from_dict(model_config)
        data = DataConfig.from_dict(data_config)
        training = TrainingConfig.from_dict(training_config)
        inference = InferenceConfig.from_dict(inference_config)
        ours = config_bridge.to_training_config(data, model, training, nphotons=1e9, output_dir=Path("."))
        exe = config_bridge.to_execution_config(training, inference)
        stored = {"data_config": data.to_dict(), "model_config": model.to_dict(),
                  "training_config": training.to_dict(), "inference_config": inference.to_dict(),
                  "datagen_config": {}}
        super().__init__(ours, exe, stored_configs=stored)
        self.model_config = model
        self.data_config = data
        self.ptycho_training_config = training
        self.inference_config = inference

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls, checkpoint_path: Union[str, Path], map_location: Optional[Any] = None, hparams_file: Any = None,
        strict: Optional[bool] = None, **kwargs: Any,
    ) -> "PtychoPINN_Lightning":
        """Open a checkpoint written by this package, never unpickling objects: the configs
        come from ``kwargs`` (Ptychodus passes all four) or else from the checkpoint."""
        checkpoint = load_checkpoint(checkpoint_path, map_location=map_location or "cpu")
        stored = checkpoint["ptycho_torch"].get("configs", {})
        configs = {}
        for name in ("model_config", "data_config", "training_config", "inference_config"):
            configs[name] = kwargs.get(name) if kwargs.get(name) is not None else stored.get(name, {})
        module = cls(**configs)
        module.on_load_checkpoint(checkpoint)
        module.load_weights(checkpoint)
        info = {k: v for k, v in checkpoint["ptycho_torch"].items()
                if k in ("nphotons", "diffraction_domain", "n_experiments", "training_files", "seed")}
        module.checkpoint_info = info
        module.eval()
        return module
