"""Timing helpers shared by the benchmarks: medians of repeats and a JSON record."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def median_seconds(fun, repeats, warmup=1):
    """Median wall time of ``fun()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fun()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine():
    """What the figures depend on: cores, Python and library versions."""
    import numpy

    info = {"nproc": os.cpu_count(), "python": platform.python_version()}
    info["numpy"] = numpy.__version__
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def save(name, record):
    """Write ``record`` (plus the machine description) to bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    record = {"machine": machine(), **record}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def time_fits_interleaved(fits, X, y, repeats):
    """Run every ``fits[name](X, y)`` once to warm up, then ``repeats`` interleaved rounds.

    The order alternates each round so that a change in machine load hits every
    library alike.  Returns ``(times, fitted)``: seconds per name, last result per name.
    """
    for fit in fits.values():
        fit(X, y)
    times = {name: [] for name in fits}
    fitted = {}
    for r in range(repeats):
        order = list(fits) if r % 2 == 0 else list(reversed(fits))
        for name in order:
            start = time.perf_counter()
            fitted[name] = fits[name](X, y)
            times[name].append(time.perf_counter() - start)
    return times, fitted
