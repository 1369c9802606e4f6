"""``ptycho.workflows.backend_selector`` (api spec §8): re-export of the dispatchers."""

from ptychopinn_plugin.workflows.backend_selector import (  # noqa: F401
    load_inference_bundle_with_backend,
    run_cdi_example_with_backend,
    train_cdi_model_with_backend,
)

__all__ = ["load_inference_bundle_with_backend", "run_cdi_example_with_backend", "train_cdi_model_with_backend"]
