"""The workflow functions under their original names (api spec §6; ``ptycho.workflows.components``).

Pure re-exports: each function lives in a small module of its own.  Importing this
module loads no deep-learning framework; the selected backend is imported when a
function that needs it is called.
"""

from ptychopinn_plugin.workflows.arguments import parse_arguments, setup_configuration, update_config_from_dict
from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data
from ptychopinn_plugin.workflows.inference import load_archive, load_inference_bundle
from ptychopinn_plugin.workflows.outputs import save_outputs
from ptychopinn_plugin.workflows.stitching import reassemble_cdi_image
from ptychopinn_plugin.workflows.training import run_cdi_example, train_cdi_model

__all__ = [
    "create_ptycho_data_container",
    "load_archive",
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
