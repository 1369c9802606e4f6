"""Import rules around the TF backend (api spec §1): framework code only under backends/tf."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ptychopinn_plugin

pytestmark = pytest.mark.tf

PACKAGE_ROOT = Path(ptychopinn_plugin.__file__).parent
TF_DIR = PACKAGE_ROOT / "backends" / "tf"


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_outside_backends_tf_imports_tensorflow_or_keras():
    offenders = []
    for path in PACKAGE_ROOT.rglob("*.py"):
        if TF_DIR in path.parents:
            continue
        if {"tensorflow", "keras"} & _imported_roots(path):
            offenders.append(str(path.relative_to(PACKAGE_ROOT)))
    assert offenders == []


def test_backend_tf_modules_never_import_torch_or_higher_layers():
    for path in TF_DIR.glob("*.py"):
        roots = _imported_roots(path)
        assert not {"torch", "lightning", "tensordict", "PyQt5"} & roots, path.name
        source = path.read_text(encoding="utf-8")
        for higher in ("ptychopinn_plugin.archive", "ptychopinn_plugin.workflows", "ptychopinn_plugin.cli", "ptycho."):
            assert f"import {higher}" not in source and f"from {higher}" not in source, (path.name, higher)


def test_backends_package_is_framework_free():
    code = (
        "import sys, ptychopinn_plugin.backends; "
        "bad = [m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
