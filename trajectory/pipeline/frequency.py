"""The fact_frequency table of a pipeline's (probe set, model): exact counts for the self-built reference
(trajectory.suite.frequency), or a probe file's ``frequency`` column; nothing otherwise."""

from __future__ import annotations

import numpy as np
import polars as pl

from trajectory.config import PipelineConfig
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision


def buckets(final_count: np.ndarray, high: int, low: int) -> np.ndarray:
    """high where the count is >= high, low where < low, medium between."""
    return np.where(final_count >= high, "high", np.where(final_count < low, "low", "medium"))


def frequency_frame(config: PipelineConfig, probes: ProbeSet, revisions: list[Revision]) -> pl.DataFrame | None:
    if config.suite:
        return _suite_frame(config, probes, revisions)
    known = [f for f in probes if f.frequency is not None]
    if not known:
        return None
    counts = np.array([f.frequency for f in known], dtype=np.int64)
    return pl.DataFrame({
        "probe_set_id": probes.content_hash, "model": config.repo_id, "revision": None,
        "fact_id": np.array([f.fact_id for f in known], dtype=np.int32), "fact_count": counts, "subject_count": None,
        "bucket": buckets(counts, config.frequency_high, config.frequency_low),
    }, schema_overrides={"revision": pl.Utf8, "subject_count": pl.Int64})


def _suite_frame(config: PipelineConfig, probes: ProbeSet, revisions: list[Revision]) -> pl.DataFrame | None:
    from trajectory.suite.build import preset
    from trajectory.suite.frequency import corpus_counts, reference_facts_index

    suite = preset(config.suite, config.suite_arch)
    counts = corpus_counts(suite)
    index = reference_facts_index()
    matched = [(f.fact_id, index[key]) for f in probes if (key := (f.relation, f.subject, f.object)) in index]
    steps = [(r.name, suite.steps if r.is_main else r.step) for r in revisions]
    steps = [(name, step) for name, step in steps if step in counts]
    if not matched or not steps:
        return None
    fact_ids = np.array([f for f, _ in matched], dtype=np.int32)
    rows = np.array([i for _, i in matched])
    final = buckets(counts[suite.steps][0][rows], config.frequency_high, config.frequency_low)
    return pl.concat([pl.DataFrame({
        "probe_set_id": probes.content_hash, "model": config.repo_id, "revision": name, "fact_id": fact_ids,
        "fact_count": counts[step][0][rows], "subject_count": counts[step][1][rows], "bucket": final,
    }) for name, step in steps])
