"""The fact_frequency table of a pipeline's (probe set, model): the counts a revision publishes beside its
weights (``fact_frequency.tsv``, as the reference trajectory does), matched to the probe facts by relation,
subject and object; else a probe file's ``frequency`` column; nothing otherwise."""

from __future__ import annotations

import numpy as np
import polars as pl

from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.protocol import Source
from trajectory.hub.revisions import Revision
from trajectory.hub.source import FREQUENCY_FILE

KEY = ["relation", "subject", "object"]


def buckets(final_count: np.ndarray, high: int, low: int) -> np.ndarray:
    """high where the count is >= high, low where < low, medium between."""
    return np.where(final_count >= high, "high", np.where(final_count < low, "low", "medium"))


def published_counts(source: Source, revisions: list[Revision]) -> dict[str, pl.DataFrame]:
    """revision -> the counts published beside it, for the revisions on disk that have them, in training order."""
    published = {}
    for revision in revisions:
        path = source.side_file(revision.name, FREQUENCY_FILE)
        if path is None:
            continue
        try:
            frame = pl.read_csv(path, separator="\t", quote_char=None, schema_overrides={"fact_count": pl.Int64, "subject_count": pl.Int64})
        except Exception as err:  # noqa: BLE001 - polars raises several kinds for a damaged table
            raise TrajectoryError(f"{path}: unreadable {FREQUENCY_FILE}: {str(err).splitlines()[0]}") from None
        missing = [c for c in [*KEY, "fact_count"] if c not in frame.columns]
        if missing:
            raise TrajectoryError(f"{path}: {FREQUENCY_FILE} lacks column(s) {', '.join(missing)}")
        published[revision.name] = frame
    return published


def frequency_frame(config: PipelineConfig, probes: ProbeSet, published: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """Per revision and probe fact its counts (buckets by the count at the last revision that publishes
    one), or, without published counts, the probe file's column (revision NULL)."""
    facts = pl.DataFrame(
        {
            "fact_id": [f.fact_id for f in probes],
            "relation": [f.relation for f in probes],
            "subject": [f.subject for f in probes],
            "object": [f.object for f in probes],
        },
        schema_overrides={"fact_id": pl.Int32},
    )
    if published:
        per_revision = {name: facts.join(frame, on=KEY, how="inner") for name, frame in published.items()}
        final = list(per_revision.values())[-1]
        if final.is_empty():
            return None
        bucket = dict(zip(final["fact_id"].to_list(), buckets(final["fact_count"].to_numpy(), config.frequency.high, config.frequency.low).tolist()))
        return pl.concat(
            [
                frame.select(
                    pl.lit(probes.content_hash).alias("probe_set_id"),
                    pl.lit(config.repo_id).alias("model"),
                    pl.lit(name).alias("revision"),
                    "fact_id",
                    "fact_count",
                    (pl.col("subject_count") if "subject_count" in frame.columns else pl.lit(None, pl.Int64)).alias("subject_count"),
                    pl.col("fact_id").replace_strict(bucket, default=None, return_dtype=pl.Utf8).alias("bucket"),
                )
                for name, frame in per_revision.items()
                if not frame.is_empty()
            ]
        )
    known = [f for f in probes if f.frequency is not None]
    if not known:
        return None
    counts = np.array([f.frequency for f in known], dtype=np.int64)
    return pl.DataFrame(
        {
            "probe_set_id": probes.content_hash,
            "model": config.repo_id,
            "revision": None,
            "fact_id": np.array([f.fact_id for f in known], dtype=np.int32),
            "fact_count": counts,
            "subject_count": None,
            "bucket": buckets(counts, config.frequency.high, config.frequency.low),
        },
        schema_overrides={"revision": pl.Utf8, "subject_count": pl.Int64},
    )
