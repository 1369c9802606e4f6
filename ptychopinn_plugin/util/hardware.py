"""What the machine computes natively, read without importing a deep-learning framework.

Why: bf16 autocast pays only where the hardware multiplies bf16 matrices itself (Intel
AMX, AVX512-BF16 on Intel and AMD, CUDA GPUs of compute capability >= 8.0).  Elsewhere
it emulates bf16 in software and is *slower* than float32, so ``precision = 'auto'``
(issue #12) must decide from the hardware, at run time, on the machine that trains.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Iterable, Optional

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of native bf16 matrix arithmetic (AMX tiles, AVX512-BF16 dot products)."""

AUTO = "auto"
FLOAT32 = "32-true"
BF16_MIXED = "bf16-mixed"


@functools.lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags (Linux ``/proc/cpuinfo``); empty where they cannot be read."""
    if not sys.platform.startswith("linux"):
        return frozenset()
    try:
        text = Path(cpuinfo).read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16_cpu_flags(flags: Optional[Iterable[str]] = None) -> tuple[str, ...]:
    """The bf16 flags present (``flags`` default: this machine's)."""
    present = cpu_flags() if flags is None else frozenset(flags)
    return tuple(flag for flag in BF16_CPU_FLAGS if flag in present)


def choose_precision(requested: str, *, device: str, flags: Optional[Iterable[str]] = None,
                     cuda_bf16: bool = False) -> tuple[str, str]:
    """Resolve a precision setting; returns ``(precision, reason)``.

    Anything but ``'auto'`` is returned as asked.  ``'auto'``: ``'bf16-mixed'`` on a CUDA
    device with bf16 support (``cuda_bf16``) or on a CPU with a native bf16 flag, else
    ``'32-true'``.  ``device`` is the resolved accelerator (``'cpu'``, ``'cuda'``, ``'mps'``).
    The physics (FFT, merge, extraction, loss) stays float32 whatever is chosen.
    """
    if requested != AUTO:
        return requested, "as configured"
    if device in ("cuda", "gpu"):
        if cuda_bf16:
            return BF16_MIXED, "auto: the CUDA device computes bf16 natively"
        return FLOAT32, "auto: the CUDA device has no native bf16"
    if device == "cpu":
        found = native_bf16_cpu_flags(flags)
        if found:
            return BF16_MIXED, f"auto: the CPU computes bf16 natively ({', '.join(found)})"
        return FLOAT32, "auto: the CPU has no native bf16 (no amx_bf16 / avx512_bf16 flag)"
    return FLOAT32, f"auto: no bf16 rule for device {device!r}"
