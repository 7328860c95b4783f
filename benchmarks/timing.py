"""Shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, so this folder is on the path):
timing, and the reference pair they measure on."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def middle_pair() -> tuple:
    """The reference pipeline's config, and its middle revision and the next one: (config, (name, model),
    (name, model), tokenizer)."""
    from trajectory.config import load_pipeline
    from trajectory.pipeline.sources import open_source

    config = load_pipeline("reference")
    source = open_source(config, progress=False)
    names = [r.name for r in source.list_revisions()]
    k = len(names) // 2
    first, tokenizer = source.load(names[k])
    second, _ = source.load(names[k + 1])
    return config, (names[k], first), (names[k + 1], second), tokenizer
