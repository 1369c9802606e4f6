#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with the pinned, tested versions.
#
# Idempotent: the environment is rebuilt only when pyproject.toml or constraints.txt
# change (a stamp file records their hash).  Everything comes from PyPI by package name;
# torch is pinned to the CPU build (see constraints.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PTYCHOPINN_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
EXTRAS="${PTYCHOPINN_EXTRAS:-all,test}"

stamp_value() {
    cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1
    echo "$EXTRAS"
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[bootstrap] creating virtual environment in $VENV" >&2
    "$PYTHON_BIN" -m venv "$VENV"
fi

STAMP="$VENV/.ptychopinn-stamp"
WANT="$(stamp_value)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[bootstrap] installing ptychopinn[$EXTRAS] with pinned versions (first run: ~2-4 min)" >&2
    PIP_ARGS=(--disable-pip-version-check --quiet)
    if [ -d /opt/wheels ]; then PIP_ARGS+=(--find-links /opt/wheels); fi
    "$VENV/bin/python" -m pip install "${PIP_ARGS[@]}" --upgrade "pip>=24" "setuptools>=68" wheel 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -m pip install "${PIP_ARGS[@]}" -c "$ROOT/constraints.txt" -e "$ROOT[$EXTRAS]" 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
    # pip's exit status is hidden by the filter above: verify the install explicitly.
    "$VENV/bin/python" -c "import ptychopinn_plugin, ptycho, ptycho_torch" || { echo "[bootstrap] install failed" >&2; exit 1; }
    echo "$WANT" > "$STAMP"
else
    echo "[bootstrap] environment up to date ($VENV)" >&2
fi
