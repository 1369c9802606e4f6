"""Importing the light packages must not load a deep-learning framework or Qt (api spec §1)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "torch", "lightning", "pytorch_lightning", "tensordict", "PyQt5", "PySide6")


@pytest.mark.parametrize(
    "module",
    [
        "ptycho",
        "ptycho.config.config",
        "ptycho.params",
        "ptychopinn_plugin",
        "ptychopinn_plugin.config",
        "ptychopinn_plugin.data",
        "ptychopinn_plugin.physics",
        "ptychopinn_plugin.simulation",
        "ptychopinn_plugin.evaluation",
        "ptychopinn_plugin.archive",
        "ptychopinn_plugin.io",
        "ptychopinn_plugin.workflows",
        "ptychopinn_plugin.backends",
        "ptycho_torch",
        "ptycho_torch.config_params",
        "ptycho_torch.config_bridge",
        "ptycho_torch.api",
        "ptycho_torch.api.base_api",
        "ptycho_torch.lightning_utils",
        "ptycho_torch.dataloader",
    ],
)
def test_import_loads_no_framework(module):
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing {module} loaded {loaded}"


def test_gui_package_is_not_installed_as_top_level_gui():
    out = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('gui') is None, u.find_spec('ptychopinn_gui') is not None)"],
        capture_output=True, text=True, check=True, cwd="/",
    )
    assert out.stdout.split() == ["True", "True"]


def test_ptycho_torch_is_installed_where_ptychodus_looks_for_it():
    """Stock Ptychodus lists its PtychoPINN-Torch entries when find_spec sees both (§4T.1)."""
    code = "import importlib.util as u; print(u.find_spec('ptycho_torch') is not None, u.find_spec('lightning') is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.split()[0] == "True"
