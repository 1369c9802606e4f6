#!/usr/bin/env bash
# Set up the environment (if needed) and run the main job on the built-in simulated sample.
# Extra arguments are passed to `ptychopinn-demo`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
VENV="${PTYCHOPINN_VENV:-$ROOT/.venv}"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
exec "$VENV/bin/ptychopinn-demo" "$@"
