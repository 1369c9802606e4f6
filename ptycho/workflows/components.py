"""``ptycho.workflows.components`` (api spec §6): re-export of :mod:`ptychopinn_plugin.workflows.components`."""

from ptychopinn_plugin.workflows.components import (  # noqa: F401
    create_ptycho_data_container,
    load_data,
    load_inference_bundle,
    parse_arguments,
    reassemble_cdi_image,
    run_cdi_example,
    save_outputs,
    setup_configuration,
    train_cdi_model,
    update_config_from_dict,
)

__all__ = [
    "create_ptycho_data_container",
    "load_data",
    "load_inference_bundle",
    "parse_arguments",
    "reassemble_cdi_image",
    "run_cdi_example",
    "save_outputs",
    "setup_configuration",
    "train_cdi_model",
    "update_config_from_dict",
]
