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
