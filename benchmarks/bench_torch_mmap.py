"""Memory-mapped PyTorch training on more diffraction data than the process could hold (data §4).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_torch_mmap.py [--patterns 524288] [--steps 100] [--workdir /tmp] [--keep] [--no-doc]

1. **Data**: ``--distinct`` simulated scans (``ptychopinn_plugin.simulation``, N = 64,
   ``--tile`` positions each, 1e6 photons/pattern) are written, tile after tile, into ONE
   canonical NPZ by a streaming zip writer (stored ``diffraction`` member, zip64) until it
   holds ``--patterns`` patterns (524 288 × 64² float32 = 8.6 GB).  Tiles reuse the
   distinct scans with their coordinates shifted so that tiles never overlap (the data
   content only matters for the memory profile; grouping sees one large scan).
2. **Build**: :func:`build_mmap_dataset` (gridsize 1, one group per position): two
   streamed passes over the 8.6 GB member, output = 8.6 GB of memory-mapped ``images``.
3. **Train**: :func:`train_models_mmap` (``n_filters_scale = 1``, batch 16, shuffled over
   the whole dataset, CPU) stopped by the monitor after ``--steps`` optimiser steps.
   Validation is off (``validation=False``): on this shared 2-core machine a forward pass
   over the last 5 % (≈ 26 000 groups) would take longer than the training itself, and
   it reads the same memory maps, so the memory profile would not change.

A sampler thread reads ``RssAnon`` (anonymous, i.e. non-file-backed, resident memory)
of this process and its children from ``/proc`` every second.  The memory maps are
file-backed, so the page cache they fill shows up as ``RssFile`` and is reclaimable;
the target is max ``RssAnon`` < 2 GB while training on ≥ 8 GB.  The big files are
deleted at the end (unless ``--keep``).  Results: stdout,
``benchmarks/results/torch_mmap.json`` and (unless ``--no-doc``) the
"## PyTorch memory-mapped training" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _bench_common import load1, machine_description, proc_kib, publish  # noqa: E402
from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.data.npz_io import metadata_to_array  # noqa: E402
from ptychopinn_plugin.simulation import SimulationConfig, simulate_dataset  # noqa: E402
from ptychopinn_plugin.util.atomic import atomic_path  # noqa: E402
from ptychopinn_plugin.util.progress import CallbackMonitor  # noqa: E402

HEADING = "## PyTorch memory-mapped training"
N = 64
NPHOTONS = 1e6
GiB = 1024**3


# ----------------------------------------------------------------------------- memory sampling
def _status_kib(pid: int, field: str) -> int:
    """``field`` of ``/proc/<pid>/status`` in KiB (0 once the process is gone)."""
    return proc_kib(field, f"/proc/{pid}/status") or 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in text:
            out.append(int(child))
            out.extend(_children(int(child)))
    return out


class RssSampler(threading.Thread):
    """Samples RssAnon/RssFile (KiB) of this process plus its children once a second."""

    def __init__(self, period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[dict] = []
        self.phase = "start"
        self.t0 = time.perf_counter()
        self._stop_event = threading.Event()

    def sample(self) -> dict:
        pids = [os.getpid(), *_children(os.getpid())]
        row = {
            "t": round(time.perf_counter() - self.t0, 1), "phase": self.phase,
            "rss_anon_kib": sum(_status_kib(p, "RssAnon") for p in pids),
            "rss_file_kib": sum(_status_kib(p, "RssFile") for p in pids),
            "processes": len(pids), "load": load1(),
        }
        self.samples.append(row)
        return row

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def max_anon(self, phase: str | None = None) -> int:
        values = [s["rss_anon_kib"] for s in self.samples if phase is None or s["phase"] == phase]
        return max(values) if values else 0


# ----------------------------------------------------------------------------- data
def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_large_npz(path: Path, *, patterns: int, tile: int, distinct: int) -> dict:
    """Simulate ``distinct`` scans and stream ``patterns`` patterns into one stored NPZ."""
    side = int(np.ceil(np.sqrt(tile)))
    object_size = N + 8 + 2 + side * N // 8  # step ≈ N/8, as in the default simulation
    scans = []
    t0 = time.perf_counter()
    for k in range(distinct):
        ds = simulate_dataset(SimulationConfig(N=N, object_size=object_size, n_positions=tile, nphotons=NPHOTONS,
                                               seed=k))
        scans.append(ds)
    simulate_s = time.perf_counter() - t0
    tiles = -(-patterns // tile)
    pitch = object_size + 4 * N
    xs, ys, xs0, ys0 = [], [], [], []
    for t in range(tiles):
        ds = scans[t % distinct]
        count = min(tile, patterns - t * tile)
        xs.append(ds.xcoords[:count] + t * pitch)
        ys.append(ds.ycoords[:count])
        xs0.append(ds.xcoords_start[:count] + t * pitch)
        ys0.append(ds.ycoords_start[:count])
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (patterns, N, N)}
    t0 = time.perf_counter()
    with atomic_path(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            small = {
                "xcoords": np.concatenate(xs), "ycoords": np.concatenate(ys),
                "xcoords_start": np.concatenate(xs0), "ycoords_start": np.concatenate(ys0),
                "probeGuess": scans[0].probeGuess, "scan_index": np.zeros(patterns, dtype=np.int64),
                "_metadata": metadata_to_array({"diffraction_domain": "amplitude", "source": "bench_torch_mmap.py"}),
            }
            for key, value in small.items():
                zf.writestr(f"{key}.npy", _npy_bytes(value))
            with zf.open("diffraction.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(member, header)
                for t in range(tiles):
                    count = min(tile, patterns - t * tile)
                    member.write(np.ascontiguousarray(scans[t % distinct].diffraction[:count], dtype="<f4").tobytes())
    write_s = time.perf_counter() - t0
    return {"simulate_s": simulate_s, "write_s": write_s, "object_size": object_size, "tiles": tiles,
            "bytes": path.stat().st_size, "diffraction_bytes": patterns * N * N * 4}


# ----------------------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict:
    import torch

    from ptychopinn_plugin.backends.torch import build_mmap_dataset, train_models_mmap

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = Path(tempfile.mkdtemp(prefix="ptychopinn-mmap-bench-", dir=args.workdir))
    sampler = RssSampler()
    sampler.sample()
    sampler.start()
    record: dict = {"patterns": args.patterns, "steps": args.steps, "workdir": str(work)}
    try:
        sampler.phase = "write NPZ"
        npz = work / "large.npz"
        record["data"] = write_large_npz(npz, patterns=args.patterns, tile=args.tile, distinct=args.distinct)
        sampler.phase = "build"
        t0 = time.perf_counter()
        load0 = load1()
        dataset = build_mmap_dataset(
            [npz], work / "mmap", N=N, gridsize=1, K=4, n_groups=None, seed=0, sequential_sampling=False,
            enable_oversampling=False, neighbor_pool_size=None, nphotons=NPHOTONS, chunk_groups=1024,
        )
        record["build"] = {"seconds": time.perf_counter() - t0, "groups": len(dataset), "load_before": load0,
                           "load_after": load1(),
                           "images_bytes": (work / "mmap" / "images.memmap").stat().st_size}
        if not args.keep_npz:
            npz.unlink()  # free the disk before training; the mmap dataset is self-contained

        sampler.phase = "train"
        stamps: list[float] = []

        def stop() -> bool:
            stamps.append(time.perf_counter())
            return len(stamps) >= args.steps

        cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=1, n_filters_scale=1), nepochs=1, batch_size=16,
                             nphotons=NPHOTONS, seed=0, backend="pytorch", output_dir=work / "train")
        exe = PyTorchExecutionConfig(accelerator="cpu", logger_backend="none", enable_checkpointing=False)
        load0 = load1()
        t0 = time.perf_counter()
        result = train_models_mmap(dataset, cfg, exe, monitor=CallbackMonitor(stop_callback=stop), validation=False)
        total = time.perf_counter() - t0
        steps_s = stamps[-1] - stamps[0]
        record["train"] = {
            "seconds_total": total, "steps": result.batches_run, "first_step_s": stamps[0] - t0,
            "steps_per_s": (len(stamps) - 1) / steps_s if steps_s > 0 else float("nan"),
            "groups_per_s": 16 * (len(stamps) - 1) / steps_s if steps_s > 0 else float("nan"),
            "after_last_step_s": (t0 + total) - stamps[-1], "load_before": load0, "load_after": load1(),
            "completed": result.completed,
        }
    finally:
        sampler.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    record["samples"] = sampler.samples
    record["max_rss_anon_kib"] = {phase: sampler.max_anon(phase) for phase in ("start", "write NPZ", "build", "train")}
    record["max_rss_file_kib_train"] = max((s["rss_file_kib"] for s in sampler.samples if s["phase"] == "train"),
                                           default=0)
    return record


def _gib(kib: int) -> str:
    return f"{kib / 1024**2:.2f} GiB"


def series_table(samples: list[dict], every: int) -> str:
    lines = ["| t (s) | phase | RssAnon | RssFile | load |", "|---:|---|---:|---:|---:|"]
    last_phase = None
    for i, s in enumerate(samples):
        if i % every == 0 or s["phase"] != last_phase or i == len(samples) - 1:
            lines.append(f"| {s['t']:.0f} | {s['phase']} | {s['rss_anon_kib'] / 1024:.0f} MiB | "
                         f"{s['rss_file_kib'] / 1024:.0f} MiB | {s['load']:.2f} |")
        last_phase = s["phase"]
    return "\n".join(lines)


def doc_body(r: dict, args: argparse.Namespace) -> str:
    import torch

    today = _dt.date.today().isoformat()
    d, b, t, m = r["data"], r["build"], r["train"], r["max_rss_anon_kib"]
    verdict = "met" if m["train"] < 2 * 1024**2 else "NOT met"
    every = max(1, len(r["samples"]) // 30)
    ram = f"{(proc_kib('MemTotal', '/proc/meminfo') or 0) / 1024**2:.0f} GiB RAM"
    machine = machine_description(ram, f"torch {torch.__version__}")
    return f"""Command: `.venv/bin/python benchmarks/bench_torch_mmap.py --patterns {args.patterns} --steps {args.steps}` ({today}; {machine}; the cores were shared with other jobs — see the load column).

Dataset: one canonical NPZ (stored members) with {r['patterns']:,} patterns of 64×64 float32 = **{d['diffraction_bytes'] / 1e9:.2f} GB of diffraction** ({d['bytes'] / GiB:.2f} GiB file), written by a streaming zip writer from {args.distinct} distinct simulated scans of {args.tile:,} positions (tiles placed side by side; simulation {d['simulate_s']:.0f} s, writing {d['write_s']:.0f} s). `build_mmap_dataset` (gridsize 1, one group per position, `chunk_groups=1024`) streamed the member twice and wrote {b['groups']:,} groups ({b['images_bytes'] / 1e9:.2f} GB of memory-mapped `images`) in {b['seconds']:.0f} s. `train_models_mmap` (`n_filters_scale=1`, batch 16, shuffled over all groups, CPU, fp32) ran {t['steps']} optimiser steps at {t['steps_per_s']:.2f} steps/s ({t['groups_per_s']:.1f} groups/s; the conv net dominates, not the data path), then the monitor stopped it; validation off (see the script's docstring); total {t['seconds_total']:.0f} s including {t['first_step_s']:.0f} s until the first step.

| phase | max RssAnon (this process + children) |
|---|---:|
| after imports | {_gib(m['start'])} |
| writing the NPZ | {_gib(m['write NPZ'])} |
| building the memory-mapped dataset | {_gib(m['build'])} |
| **training on {d['diffraction_bytes'] / 1e9:.2f} GB** | **{_gib(m['train'])}** (max RssFile {_gib(r['max_rss_file_kib_train'])}: page cache of the maps, reclaimable) |

Target RssAnon < 2 GB while training on ≥ 8 GB: **{verdict}**. The big files were deleted afterwards. Time series (one row every {every} s, plus phase changes):

{series_table(r['samples'], every)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", type=int, default=524288, help="patterns in the NPZ (default %(default)s = 8.6 GB)")
    parser.add_argument("--tile", type=int, default=8192, help="positions per simulated scan (default %(default)s)")
    parser.add_argument("--distinct", type=int, default=2, help="distinct simulated scans (default %(default)s)")
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps before stopping (default %(default)s)")
    parser.add_argument("--workdir", default=None, help="where the big files go (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the NPZ and the memory-mapped dataset")
    parser.add_argument("--keep-npz", action="store_true", help="keep the NPZ on disk while training")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ptychopinn_plugin.backends.torch.mmap_dataset").setLevel(logging.INFO)
    record = run(args)
    summary = {k: v for k, v in record.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    publish("torch_mmap.json", record, HEADING, None if args.no_doc else doc_body(record, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
