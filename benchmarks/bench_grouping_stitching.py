"""Grouping and stitching throughput / peak memory (foundation benchmark).

Run:  python benchmarks/bench_grouping_stitching.py            (full: 10 k and 100 k positions)
      python benchmarks/bench_grouping_stitching.py --quick    (10 k only, no file written)

Every case runs in a fresh subprocess so its peak RSS (``ru_maxrss`` of that process)
is not polluted by earlier cases; the interpreter + import baseline is measured in the
same process and reported next to it.  Timings are the best of ``--repeat`` runs.

Cases
* grouping: ``RawData.generate_grouped_data(N=64, K=4, nsamples=n, gridsize=g)`` with
  one group per position, both position-only (KD-tree, sampling, coordinate tensors)
  and, at 10 k, with 64×64 float32 diffraction (adds the channel gather and the
  normalised copy; at 100 k and g = 2 that alone is 2 × 6.5 GB, so it is not run).
* stitching: ``reassemble_position`` (N = 64, M = 20) of ``n`` patches for g = 1 (offsets
  = the random fractional positions) and g = 2 (offsets = the group centres from the
  grouping, quarter-pixel fractions).  "in-memory" passes a materialised
  ``(B, 64, 64, 1)`` complex64 array (3.3 GB at 100 k, reported separately: it is the
  caller's data); "streamed" feeds ``PatchStitcher`` 1024-patch chunks as inference
  batches would, so the whole process stays small.

Positions are uniform random with a density of one per 16 px² (mean spacing ≈ 4 px).
The Markdown table is printed and written to docs/benchmarks.md under
"## Grouping and stitching (foundation)" (only that section is replaced).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _bench_common import DOC, machine_description, proc_kib, replace_doc_section
from _bench_common import ROOT as REPO

SECTION = "## Grouping and stitching (foundation)"
N = 64
M = 20
STREAM_CHUNK = 1024


def _rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    kib = proc_kib("VmRSS")
    if kib is None:
        raise RuntimeError("VmRSS not found in /proc/self/status")
    return kib / 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _positions(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    side = 4.0 * np.sqrt(n)
    return rng.uniform(N, N + side, size=n), rng.uniform(N, N + side, size=n)


def _raw_data(n: int, with_diffraction: bool):
    import numpy as np

    from ptychopinn_plugin.data import RawData

    x, y = _positions(n)
    probe = np.ones((N, N), np.complex64)
    diff = None
    if with_diffraction:
        rng = np.random.default_rng(1)
        block = rng.random((256, N, N), dtype=np.float32)
        diff = np.empty((n, N, N), np.float32)
        for start in range(0, n, 256):
            stop = min(start + 256, n)
            diff[start:stop] = block[: stop - start]
    return RawData.from_coords_without_pc(x, y, diff, probe, np.arange(n))


def _case_grouping(case: dict) -> dict:
    raw = _raw_data(case["n"], case["diffraction"])
    rss_before = _rss_mb()
    times = []
    for rep in range(case["repeat"]):
        t0 = time.perf_counter()
        grouped = raw.generate_grouped_data(N, K=4, nsamples=case["n"], seed=rep, gridsize=case["g"])
        times.append(time.perf_counter() - t0)
        groups = grouped["coords_offsets"].shape[0]
        del grouped
    return {"seconds": min(times), "items": groups, "rss_before_mb": rss_before}


def _stitch_inputs(case: dict):
    import numpy as np

    n, g = case["n"], case["g"]
    if g == 1:
        x, y = _positions(n)
        offsets = np.stack([x, y], axis=1)[:, None, :, None]
    else:
        raw = _raw_data(n, with_diffraction=False)
        offsets = raw.generate_grouped_data(N, K=4, nsamples=n, seed=0, gridsize=g)["coords_offsets"]
    # One chunk of random patches, made without complex128 temporaries so that the
    # benchmark's own data generation does not dominate the streamed case's peak.
    rng = np.random.default_rng(2)
    block = np.empty((STREAM_CHUNK, N, N, 1), np.complex64)
    block.real = rng.standard_normal(block.shape, dtype=np.float32)
    block.imag = rng.standard_normal(block.shape, dtype=np.float32)
    return offsets, block


def _case_stitching(case: dict) -> dict:
    import numpy as np

    from ptychopinn_plugin.physics.stitching import PatchStitcher, stitch_patches

    offsets, block = _stitch_inputs(case)
    b = offsets.shape[0]
    patches = None
    if case["mode"] == "in-memory":
        patches = np.empty((b, N, N, 1), np.complex64)
        for start in range(0, b, STREAM_CHUNK):
            stop = min(start + STREAM_CHUNK, b)
            patches[start:stop] = block[: stop - start]
    rss_before = _rss_mb()
    times = []
    canvas = 0
    for _ in range(case["repeat"]):
        t0 = time.perf_counter()
        if patches is not None:
            result = stitch_patches(patches, offsets, M=M)
        else:
            stitcher = PatchStitcher(offsets, N=N, M=M)
            for start in range(0, b, STREAM_CHUNK):
                stitcher.add(block[: min(STREAM_CHUNK, b - start)])
            result = stitcher.result()
        times.append(time.perf_counter() - t0)
        canvas = result.canvas_size
        del result
    return {
        "seconds": min(times),
        "items": b,
        "canvas": canvas,
        "rss_before_mb": rss_before,
        "input_mb": 0.0 if patches is None else patches.nbytes / 2**20,
    }


def run_case(case: dict) -> dict:
    """Body of one subprocess: measure baseline, run the case, report peaks."""
    import numpy  # noqa: F401  (part of the baseline)

    import ptychopinn_plugin.data  # noqa: F401
    import ptychopinn_plugin.physics  # noqa: F401

    baseline = _rss_mb()
    out = _case_grouping(case) if case["kind"] == "grouping" else _case_stitching(case)
    out.update(case)
    out["baseline_mb"] = baseline
    out["peak_mb"] = _peak_mb()
    return out


def _spawn(case: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cases(quick: bool, repeat: int) -> list[dict]:
    sizes = [10_000] if quick else [10_000, 100_000]
    cases: list[dict] = []
    for n in sizes:
        for g in (1, 2):
            cases.append({"kind": "grouping", "n": n, "g": g, "diffraction": False, "repeat": repeat})
            if n <= 10_000:
                cases.append({"kind": "grouping", "n": n, "g": g, "diffraction": True, "repeat": repeat})
    for n in sizes:
        for g in (1, 2):
            for mode in ("in-memory", "streamed"):
                cases.append({"kind": "stitching", "n": n, "g": g, "mode": mode, "repeat": repeat})
    return cases


def _table(results: list[dict]) -> str:
    lines = [
        "| Case | Positions | g | Items | Time (s) | Throughput (items/s) | Peak RSS (MiB) | "
        "Baseline RSS (MiB) | RSS before call (MiB) | Peak − before call (MiB) | Notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r["kind"] == "grouping":
            name = "grouping, " + ("with 64×64 diffraction" if r["diffraction"] else "position-only")
            notes = f"{r['items']:,} groups of {r['g'] ** 2}"
        else:
            name = f"stitching M={M}, {r['mode']}"
            notes = f"canvas {r['canvas']}×{r['canvas']}"
            if r["mode"] == "in-memory":
                notes += f"; input array {r['input_mb']:.0f} MiB"
        lines.append(
            f"| {name} | {r['n']:,} | {r['g']} | {r['items']:,} | {r['seconds']:.3f} | "
            f"{r['items'] / r['seconds']:,.0f} | {r['peak_mb']:.0f} | {r['baseline_mb']:.0f} | "
            f"{r['rss_before_mb']:.0f} | {r['peak_mb'] - r['rss_before_mb']:.0f} | {notes} |"
        )
    return "\n".join(lines)


def _section_body(table: str, repeat: int) -> str:
    import scipy

    machine = machine_description(f"SciPy {scipy.__version__}")
    return (
        f"Command: `python benchmarks/bench_grouping_stitching.py` "
        f"({time.strftime('%Y-%m-%d')}; {machine}; best of {repeat}; every case in a fresh process, peak RSS = its `ru_maxrss`, baseline = RSS after importing NumPy and ptychopinn).\n\n"
        f"N = {N}; random positions, one per 16 px²; one group per position; K = 4. "
        "Stitching \"in-memory\" takes a materialised `(B, 64, 64, 1)` complex64 array (the "
        "caller's data, counted in the peak); \"streamed\" feeds `PatchStitcher` 1024-patch chunks. "
        "\"Peak − before call\" is the memory the operation itself added (for grouping: the "
        "returned dictionary plus temporaries). Grouping with diffraction is not run at 100 k "
        "(at g = 2 the grouped diffraction and its normalised copy alone are 2 × 6.5 GB). "
        "Requirement: 100 k patches (M = 20) stitched in < 5 s with < 2 GB peak RSS for the "
        "stitching itself (streamed rows; for in-memory rows, peak − before call).\n\n"
        f"{table}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="10 k positions only; do not write docs")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is reported)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    results = []
    for case in _cases(args.quick, args.repeat):
        result = _spawn(case)
        results.append(result)
        print(f"done: {case}", file=sys.stderr, flush=True)
    table = _table(results)
    print(table)
    if not (args.quick or args.no_write):
        replace_doc_section(DOC, SECTION, _section_body(table, args.repeat))
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
