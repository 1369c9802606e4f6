"""Helpers shared by the benchmark scripts: where results go, how the machine is
described, load and memory readings, timing, and publishing a result.

Standard library only at import time (``bench_grouping_stitching.py`` measures the RSS
of a bare interpreter plus NumPy and ptychopinn; this module must not add to it), and no
deep-learning framework at all: scripts that use one describe it themselves and pass
the text to :func:`machine_description`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"

__all__ = [
    "ROOT",
    "RESULTS",
    "DOC",
    "cpu_model",
    "machine_description",
    "load1",
    "proc_kib",
    "first_and_best",
    "replace_doc_section",
    "publish",
]


# ----------------------------------------------------------------------------- the machine
def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``"unknown CPU"`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_description(*extras: str) -> str:
    """``"<n> CPU cores (<model>), Python x, NumPy y"`` followed by ``extras`` (framework
    versions, threads, …), for the "Command: … (date; machine)" line of every record."""
    import numpy as np

    parts = [f"{os.cpu_count()} CPU cores ({cpu_model()})", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}", *extras]
    return ", ".join(parts)


def load1() -> float:
    """The 1-minute load average (the CPU is shared: recorded next to every timing)."""
    return os.getloadavg()[0]


def proc_kib(field: str, path: str | os.PathLike[str] = "/proc/self/status") -> Optional[int]:
    """A ``<field>: <n> kB`` value of a ``/proc`` file (``status`` of a process,
    ``/proc/meminfo``) in KiB; None when the file or the field cannot be read (a child
    process may exit between listing and reading)."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


# ----------------------------------------------------------------------------- timing
def first_and_best(call: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Seconds of a first ``call()`` (tracing, warm-up) and the best of ``repeats`` more."""
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return first, min(times)


# ----------------------------------------------------------------------------- results
def replace_doc_section(path: str | os.PathLike[str], heading: str, body: str) -> None:
    """Replace the section ``heading`` (a ``## …`` line, up to the next ``## `` heading or
    the end) of a Markdown file with ``heading + body``; append it when absent.  Other
    sections are kept byte for byte; the file is written atomically."""
    from ptychopinn_plugin.util.atomic import atomic_write_text

    path = Path(path)
    if not heading.startswith("## "):
        raise ValueError(f"heading must be a level-2 Markdown heading ('## …'); got {heading!r}")
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    section = heading + "\n\n" + body.strip("\n") + "\n"
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[stop:])
        new = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    atomic_write_text(path, new)


def publish(json_name: str, record: Any, heading: str, doc_body: Optional[str]) -> None:
    """Write ``record`` to ``benchmarks/results/<json_name>`` and, unless ``doc_body`` is
    None (``--no-doc``), replace the ``heading`` section of ``docs/benchmarks.md``."""
    from ptychopinn_plugin.util.atomic import atomic_write_text

    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / json_name, json.dumps(record, indent=1))
    if doc_body is not None:
        replace_doc_section(DOC, heading, doc_body)
        print(f"updated {DOC}")


def held_out_ssim(model_dir: Path, test_npz: Path, out_dir: Path) -> tuple[float, float]:
    """``ptychopinn-infer --comparison_plot`` (in this process) and the held-out amplitude /
    phase SSIM from its ``metrics.json``: how the command-line benchmarks score a model."""
    from ptychopinn_plugin.cli.infer import main as infer
    from ptychopinn_plugin.evaluation.report import read_metrics_json

    code = infer(["--model_path", str(model_dir), "--test_data", str(test_npz), "--output_dir", str(out_dir),
                  "--comparison_plot", "--quiet"])
    if code != 0:
        raise RuntimeError(f"ptychopinn-infer exited {code}")
    ssim = read_metrics_json(out_dir / "metrics.json")["metrics"]["ssim"]
    return float(ssim["amplitude"]), float(ssim["phase"])
