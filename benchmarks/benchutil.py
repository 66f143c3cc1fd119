"""What every micro-benchmark records about the machine it ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def machine(**extra: Any) -> dict[str, Any]:
    """Date, CPU, cores and Python, plus any ``extra`` fields the benchmark adds."""
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        **extra,
    }


def best_rate(fn: Callable[[], object], number: int, repeats: int,
              warmup: int) -> tuple[float, float]:
    """Best and median calls/s over ``repeats`` runs of ``number`` calls, after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append(time.perf_counter() - t0)
    return number / min(times), number / statistics.median(times)
