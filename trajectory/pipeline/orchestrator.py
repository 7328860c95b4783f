"""The one orchestrator: run a pipeline's revisions end to end into the store.

Per revision: download (overlapping the previous revision's processing) → load → trace all prompts
→ accuracy → role scores and roles → write in one transaction → release the checkpoint. Finished
revisions are skipped on a re-run; a failing revision is reported and the others go on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import torch
from tqdm.auto import tqdm

from trajectory.config import PipelineConfig, load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.facts import load_probe_set
from trajectory.hub.revisions import Revision
from trajectory.hub.source import RevisionSource
from trajectory.ifr import trace
from trajectory.pipeline.frames import revision_frames, shared_frames
from trajectory.pipeline.sources import open_source, selected_revisions
from trajectory.prompts import encode_probe_set
from trajectory.store.db import finished_revisions, write_revision

log = logging.getLogger(__name__)


def run_ingest(args: argparse.Namespace, progress: bool) -> int:
    config = load_pipeline(args.pipeline).with_overrides(device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    return ingest(config, Path(args.db), spec=args.revisions, force=args.force, progress=progress)


def ingest(config: PipelineConfig, db: Path, *, spec: str | None = None, force: bool = False, progress: bool = True) -> int:
    probes = load_probe_set(config.probe_set)
    source = open_source(config, progress=progress)
    chosen = selected_revisions(config, source, spec)
    all_names = [r.name for r in source.list_revisions()]
    done = set() if force else finished_revisions(db, config.repo_id)
    todo = [r for r in chosen if r.name not in done]
    print(f"{config.name}: {len(chosen)} revisions selected, {len(chosen) - len(todo)} already stored, {len(todo)} to ingest into {db}")
    if not todo:
        return 0
    device = config.resolved_device()
    run = _run_frame(config, device)
    failures: list[str] = []
    kept: list[str] = []
    bar = tqdm(total=len(todo), desc="ingest", unit="rev", disable=not progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending: Future | None = pool.submit(source.download, todo[0].name)
        for index, revision in enumerate(todo):
            bar.set_postfix_str(f"{revision.name}: download")
            download, pending = pending, None
            if index + 1 < len(todo):
                # One worker: the next download starts when this one ends, and overlaps the work below.
                pending = pool.submit(source.download, todo[index + 1].name)
            try:
                download.result()
            except TrajectoryError as err:
                failures.append(f"{revision.name}: {err}")
                bar.write(f"error: {err}")
                bar.update(1)
                continue
            try:
                summary = process_revision(config, source, revision, all_names.index(revision.name), probes, run, db, device, bar)
                bar.write(f"stored {revision.name}: top-1 {summary['top1']:.2f}, active heads {summary['active_heads']}, "
                          f"active FFNs {summary['active_ffns']} ({summary['seconds']:.1f} s)")
                sys.stdout.flush()
            except TrajectoryError as err:
                failures.append(f"{revision.name}: {err}")
                bar.write(f"error: {err}")
            finally:
                _release(source, revision.name, config.keep_revisions, kept)
            bar.update(1)
    bar.close()
    _report_duplicates(db, config.repo_id)
    if failures:
        print(f"error: {len(failures)} of {len(todo)} revisions failed; the others are stored. Re-run to retry.", file=sys.stderr)
        return 1
    return 0


def process_revision(config, source: RevisionSource, revision: Revision, ordinal: int, probes, run, db, device, bar) -> dict:
    started = time.perf_counter()
    bar.set_postfix_str(f"{revision.name}: load")
    model, tokenizer = source.load(revision.name, dtype=config.dtype, device=device)
    encoded = encode_probe_set(tokenizer, probes)
    for fact, reason in encoded.skipped:
        log.warning("fact %d (%s, %r) skipped: %s", fact.fact_id, fact.relation, fact.subject, reason)
    bar.set_postfix_str(f"{revision.name}: trace")
    result = trace(model, encoded.input_ids, encoded.attention_mask, threshold=config.threshold,
                   return_attn=False, batch_size=config.batch_size)
    del model
    bar.set_postfix_str(f"{revision.name}: roles")
    frames, summary = revision_frames(config.repo_id, revision.name, encoded, result, config.theta, config.store_circuits)
    summary["seconds"] = time.perf_counter() - started
    frames["revisions"] = pl.DataFrame({
        "model": [config.repo_id], "revision": [revision.name], "ordinal": [ordinal], "step": [revision.step],
        "tokens": [revision.tokens], "commit": [source.cached_commit(revision.name)],
        "content_hash": [source.content_hash(revision.name)], "run_id": [run["run_id"][0]],
        "seconds": [summary["seconds"]], "ingested_at": [datetime.now(timezone.utc).replace(tzinfo=None)],
    }, schema_overrides={"ordinal": pl.Int32, "step": pl.Int64, "tokens": pl.Int64})
    shared = shared_frames(config.repo_id, probes, encoded) | {"runs": run}
    bar.set_postfix_str(f"{revision.name}: write")
    write_revision(db, config.repo_id, revision.name, frames, shared)
    return summary


def _run_frame(config: PipelineConfig, device: str) -> pl.DataFrame:
    import duckdb
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "duckdb": duckdb.__version__, "polars": pl.__version__}
    return pl.DataFrame({
        "run_id": [uuid.uuid4().hex[:12]], "model": [config.repo_id], "pipeline": [config.name],
        "probe_set": [config.probe_set], "tau": [config.threshold], "theta": [config.theta], "dtype": [config.dtype],
        "device": [device], "versions": [json.dumps(versions)],
        "started_at": [datetime.now(timezone.utc).replace(tzinfo=None)],
    })


def _release(source: RevisionSource, name: str, keep: int, kept: list[str]) -> None:
    """Keep the last ``keep`` downloaded revisions; release older ones (never user-cached ones)."""
    if source.was_cached_before(name):
        return
    kept.append(name)
    while len(kept) > keep:
        source.release(kept.pop(0))


def _report_duplicates(db: Path, model: str) -> None:
    from trajectory.hub.source import find_duplicates
    from trajectory.store.query import run_sql

    rows = run_sql(db, f"""
        SELECT revision, content_hash FROM revisions
        WHERE model = '{model.replace("'", "''")}' ORDER BY ordinal""")
    for group in find_duplicates(dict(zip(rows["revision"].to_list(), rows["content_hash"].to_list()))):
        print(f"warning: identical weights in {model}: {', '.join(group)} (a re-uploaded or duplicated checkpoint)")
