"""Shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, so this folder is on the path)."""

import time


def best_of(fn, repeats=3):
    """The fastest of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
