#!/usr/bin/env bash
# Set up the environment (if needed) and run the whole test suite.
# Extra arguments are passed to pytest, e.g. `scripts/test.sh -k grouping`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
VENV="${PTYCHOPINN_VENV:-$ROOT/.venv}"
cd "$ROOT"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
WORKERS="${PTYCHOPINN_TEST_WORKERS:-2}"
exec "$VENV/bin/python" -m pytest -n "$WORKERS" --timeout=900 "$@"
