#!/usr/bin/env bash
# Set up the environment (if needed) and run the main job: the desktop app with the
# built-in simulated sample preloaded.  Without a display (no DISPLAY/WAYLAND_DISPLAY and
# no QT_QPA_PLATFORM) the app runs headless instead: it loads the sample offscreen,
# writes a screenshot of the window and exits 0.  Extra arguments go to `ptychopinn-gui`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"
VENV="${PTYCHOPINN_VENV:-$ROOT/.venv}"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" || -n "${QT_QPA_PLATFORM:-}" ]]; then
    exec "$VENV/bin/ptychopinn-gui" --sample "$@"
fi
SHOT="${PTYCHOPINN_SCREENSHOT:-$ROOT/ptychopinn-window.png}"
echo "No display found: running the desktop app headless (offscreen) on the built-in sample." >&2
echo "On a desktop, 'bash scripts/run.sh' opens the window; over ssh use 'xvfb-run bash scripts/run.sh' or 'ssh -X'." >&2
exec "$VENV/bin/ptychopinn-gui" --offscreen --sample --screenshot "$SHOT" "$@"
