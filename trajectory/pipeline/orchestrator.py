"""The one orchestrator: run a pipeline's revisions end to end into the store.

Per revision: download (overlapping the previous revision's processing) → load → trace all prompts
once → for every analysis of the pipeline (one per τ, θ, FFN renormalisation): accuracy, role scores
and roles → write all of them in one transaction → (with ``grafting.enabled``) the grafting stage: the
revision as recipient, the next selected one as donor → (with ``extractive.enabled``) the extractive
stage: the update to the next selected revision and the OCR experiment → release the checkpoint. Each
stage writes its rows of a revision in its own transaction (trajectory.pipeline.stages). Each stage an
analysis has stored for a revision is skipped on a re-run; a failing revision is reported and the
others go on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import torch
from tqdm.auto import tqdm

from trajectory.config import FFN_RENORMALISATIONS, PipelineConfig, load_pipeline, parse_choices, parse_fractions
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet, load_probe_set
from trajectory.hub.revisions import Revision
from trajectory.hub.source import RevisionSource
from trajectory.ifr import Variant, trace_variants
from trajectory.ifr.memory import memory_budget, plan_chunks
from trajectory.lens.answer import AnswerLens
from trajectory.models.architectures import architecture_of, readout
from trajectory.pipeline.frequency import frequency_frame
from trajectory.pipeline.frames import lens_frame, prompt_frame, revision_frames
from trajectory.pipeline.stages import ablation_revision, extractive_revision, grafting_revision
from trajectory.pipeline.sources import open_source, selected_revisions
from trajectory.prompts import encode_probe_set
from trajectory.store.analyses import Analysis, register
from trajectory.store.db import (check_store, finished_revisions, ingest_lock, replace_frequency, transaction, write_revision,
                                 writer)

log = logging.getLogger(__name__)
STAGE_NAMES = {"ifr": "IFR and roles", "ablation": "ablation", "grafting": "weight grafting", "extractive": "extractive structures"}


def run_ingest(args: argparse.Namespace, progress: bool) -> int:
    config = load_pipeline(args.pipeline).with_overrides(
        device=args.device, dtype=args.dtype, batch_size=args.batch_size, probe_set=args.facts, extractive=args.extractive,
        grafting=args.grafting, ablation=args.ablation, thresholds=parse_fractions(args.tau, "--tau") if args.tau else None,
        thetas=parse_fractions(args.theta, "--theta") if args.theta else None,
        ffn_renormalisations=parse_choices(args.ffn_renormalisation, FFN_RENORMALISATIONS, "--ffn-renormalisation")
        if args.ffn_renormalisation else None,
    )
    if args.facts:
        config = replace(config, probe_name=None)  # the pipeline's probe.name named its own facts
    pair = parse_pair(args.graft_pair) if args.graft_pair else None
    return ingest(config, Path(args.db), spec=args.revisions, force=args.force, progress=progress, graft_pair=pair)


def parse_pair(text: str) -> tuple[str, str]:
    names = [part.strip() for part in text.split(",")]
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise TrajectoryError(f"--graft-pair takes two different revisions, RECIPIENT,DONOR; got {text!r}")
    return names[0], names[1]


def pipeline_analyses(config: PipelineConfig, probes: ProbeSet) -> list[Analysis]:
    """One analysis per (τ, FFN renormalisation, θ) of the pipeline."""
    name = config.probe_name or probes.name
    return [Analysis(config.repo_id, probes.content_hash, name, tau, theta, ffn, config.dtype) for tau, ffn, theta in config.settings()]


def ingest(config: PipelineConfig, db: Path, *, spec: str | None = None, force: bool = False, progress: bool = True,
           graft_pair: tuple[str, str] | None = None) -> int:
    """Ingest the pipeline's revisions into its analyses (found or created in the store). Resume and
    ``force`` act within these analyses only; a revision is traced once for all of them. With
    ``graft_pair`` (recipient, donor), only the grafting stage runs, for that pair."""
    probes = load_probe_set(config.probe_set)
    analyses = pipeline_analyses(config, probes)
    check_store(db)  # a directory, a read-only file, a file that is no store: say so before any work
    source = open_source(config, progress=progress)
    if graft_pair is not None:
        chosen = selected_revisions(config, source, ",".join(graft_pair))
        if len(chosen) != 2:
            raise TrajectoryError(f"--graft-pair: {', '.join(graft_pair)} are not two revisions of {config.repo_id} (see trajectory revisions)")
        recipient, donor = (next(r for r in chosen if r.name == name) for name in graft_pair)
    else:
        chosen = selected_revisions(config, source, spec)
    with ingest_lock(db):
        with writer(db) as con, transaction(con):
            names = register(con, probes, config.probe_name or probes.name, analyses)
        frequency = frequency_frame(config, probes, source.list_revisions())
        if frequency is not None:
            replace_frequency(db, frequency)
        if graft_pair is not None:
            return _graft_pair_locked(config, db, source, recipient, donor, probes, analyses, force, progress)
        return _ingest_locked(config, db, source, chosen, probes, analyses, names, force, progress)


def _graft_pair_locked(config, db, source, recipient: Revision, donor: Revision, probes, analyses, force, progress) -> int:
    stage = f"grafting:{donor.name}"  # a chosen pair's mark, apart from the consecutive pair's ("grafting")
    ids = [a.analysis_id for a in analyses]
    done = {a: set() for a in ids} if force else finished_revisions(db, ids, stage)
    needed = [a for a in analyses if recipient.name not in done[a.analysis_id]]
    if not needed:
        print(f"the pair {recipient.name} -> {donor.name} is stored; --force redoes it")
        return 0
    models = _LoadedModels(source, config.resolved_device())
    kept: list[str] = []
    try:
        with tqdm(total=1, desc="graft", unit="pair", disable=not progress) as bar:
            summary = grafting_revision(config, models, recipient, donor, probes, needed, db, models.device, bar, stage)
            bar.write(f"stored {recipient.name} -> {donor.name} (grafting): {summary}")
            bar.update(1)
    finally:
        for name in (recipient.name, donor.name):
            _release(source, name, config.keep_revisions, kept)
    return 0


def _ingest_locked(config, db, source, chosen, probes, analyses, names, force, progress) -> int:
    all_names = [r.name for r in source.list_revisions()]
    ids = [a.analysis_id for a in analyses]
    stages = config.stages()
    done = {stage: {a: set() for a in ids} if force else finished_revisions(db, ids, stage) for stage in stages}
    todo = [r for r in chosen if any(r.name not in done[stage][a] for stage in stages for a in ids)]
    for analysis_id in ids:
        stored = ", ".join(f"{sum(r.name in done[stage][analysis_id] for r in chosen)} {stage}" for stage in stages)
        print(f"analysis {names[analysis_id]} ({analysis_id}): of {len(chosen)} selected revisions, stored: {stored}")
    print(f"{config.name}: {len(todo)} revisions to ingest into {db}" + (f" for {len(ids)} analyses" if len(ids) > 1 else "")
          + (f" (stages: {', '.join(STAGE_NAMES[s] for s in stages)})" if len(stages) > 1 else ""))
    if not todo:
        return 0
    device = config.resolved_device()
    run = _run_frame(config, device, ids)
    # The stages after IFR; the pair stages (grafting, extractive) take each selected revision with the next selected one.
    pair_stages = [(stage, run) for stage, run in (("ablation", ablation_revision), ("grafting", grafting_revision),
                                                   ("extractive", extractive_revision)) if stage in stages]
    following = {a.name: b for a, b in zip(chosen, chosen[1:])}
    to_process = {r.name for r in todo}
    models = _LoadedModels(source, device)
    said: set[str] = set()  # log lines said once per ingest
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
                needed = [a for a in analyses if revision.name not in done["ifr"][a.analysis_id]]
                if needed:
                    summary = process_revision(config, models, revision, all_names.index(revision.name), probes, needed, run, db,
                                               device, bar, said)
                    bar.write(f"stored {revision.name}: {summary}")
                for stage, run_pair_stage in pair_stages:
                    needed = [a for a in analyses if revision.name not in done[stage][a.analysis_id]]
                    if needed:
                        if pending is not None:
                            wait([pending])  # the next revision's download (the pair's second model) must not race a second one
                        summary = run_pair_stage(config, models, revision, following.get(revision.name), probes, needed, db, device, bar)
                        bar.write(f"stored {revision.name} ({stage}): {summary}")
                sys.stdout.flush()
            except TrajectoryError as err:
                failures.append(f"{revision.name}: {err}")
                bar.write(f"error: {err}")
            finally:
                after = following.get(revision.name)
                models.release_except(after)
                _release(source, revision.name, config.keep_revisions, kept)
                if after is not None and after.name not in to_process:  # downloaded only as this pair's W′
                    _release(source, after.name, config.keep_revisions, kept)
            bar.update(1)
    bar.close()
    _report_duplicates(db, config.repo_id)
    if failures:
        print(f"error: {len(failures)} of {len(todo)} revisions failed; the others are stored. Re-run to retry.", file=sys.stderr)
        return 1
    return 0


class _LoadedModels:
    """Loaded revisions, so that a revision loaded as the "after" of one pair is not loaded again as the
    "before" of the next. Holds at most the ones in use."""

    def __init__(self, source: RevisionSource, device: str) -> None:
        self.source, self.device = source, device
        self.loaded: dict[tuple[str, str], tuple] = {}

    def get(self, name: str, dtype: str):
        key = (name, dtype)
        if key not in self.loaded:
            self.source.download(name)  # a no-op when it is on disk (the prefetch got it)
            self.loaded[key] = self.source.load(name, dtype=dtype, device=self.device)
        return self.loaded[key]

    def keep_only(self, dtype: str) -> None:
        """Drop the loaded copies of other dtypes (a 7B model's bfloat16 copy before its float32 pair)."""
        self.loaded = {k: v for k, v in self.loaded.items() if k[1] == dtype}

    def release_except(self, revision: Revision | None) -> None:
        keep = revision.name if revision is not None else None
        self.loaded = {k: v for k, v in self.loaded.items() if k[0] == keep}


def process_revision(config, models: _LoadedModels, revision: Revision, ordinal: int, probes: ProbeSet,
                     analyses: list[Analysis], run: pl.DataFrame, db: Path, device: str, bar, said: set[str]) -> str:
    """Load, trace once for every (τ, FFN renormalisation) the analyses need, score and write all the
    analyses' rows of this revision in one transaction; returns a line for the log."""
    started = time.perf_counter()
    bar.set_postfix_str(f"{revision.name}: load")
    model, tokenizer = models.get(revision.name, config.dtype)
    source = models.source
    encoded = encode_probe_set(tokenizer, probes)
    for fact, reason in encoded.skipped:
        log.warning("fact %d (%s, %r) skipped: %s", fact.fact_id, fact.relation, fact.subject, reason)
    bar.set_postfix_str(f"{revision.name}: trace")
    variant_of = {a.analysis_id: Variant(a.tau, a.ffn_renormalisation) for a in analyses}
    shape = model.config
    plan = plan_chunks(len(encoded.facts), encoded.input_ids.shape[1], shape.num_hidden_layers, shape.num_attention_heads,
                       shape.hidden_size, memory_budget(device, config.memory_gb), config.batch_size)
    choice = f"{len(encoded.facts)} prompts, T={encoded.input_ids.shape[1]}, {plan.batch_size} at a time"
    if choice not in said:  # once per ingest, and again whenever the choice changes (not the free memory)
        said.add(choice)
        bar.write(plan.describe(len(encoded.facts), encoded.input_ids.shape[1]))
    # The logit lens reads each layer's output from the same pass (METHOD: no second forward).
    lens = AnswerLens.of(encoded, shape.num_hidden_layers)
    read = readout(model, architecture_of(model))
    results = trace_variants(model, encoded.input_ids, encoded.attention_mask, list(variant_of.values()),
                             return_attn=False, batch_size=plan.batch_size, max_chunk_elements=plan.max_chunk_elements,
                             on_layer_output=lambda rows, layer, y: lens.observe(rows, layer, y, read))
    del model, read
    bar.set_postfix_str(f"{revision.name}: roles")
    frames, summaries = {}, []
    for analysis in analyses:
        tables, summary = revision_frames(analysis.analysis_id, config.repo_id, revision.name, encoded,
                                          results[variant_of[analysis.analysis_id]], analysis.theta, config.store_circuits)
        tables["logit_lens"] = lens_frame(analysis.analysis_id, config.repo_id, revision.name, encoded, lens)
        frames[analysis.analysis_id] = tables
        summaries.append(summary)
    seconds = time.perf_counter() - started
    commit, content_hash = source.cached_commit(revision.name), source.content_hash(revision.name)
    ingested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    for analysis_id, tables in frames.items():
        tables["revisions"] = pl.DataFrame({
            "analysis_id": [analysis_id], "model": [config.repo_id], "revision": [revision.name], "ordinal": [ordinal],
            "step": [revision.step], "tokens": [revision.tokens], "stage": [revision.stage], "commit": [commit], "content_hash": [content_hash],
            "run_id": [run["run_id"][0]], "seconds": [seconds], "ingested_at": [ingested_at],
        }, schema_overrides={"ordinal": pl.Int32, "step": pl.Int64, "tokens": pl.Int64, "stage": pl.Int32})
    shared = {"prompts": prompt_frame(probes.content_hash, config.repo_id, encoded),
              "runs": run.filter(pl.col("analysis_id").is_in(list(frames)))}
    bar.set_postfix_str(f"{revision.name}: write")
    write_revision(db, revision.name, frames, shared)
    return _summary_line(summaries, seconds)


def _summary_line(summaries: list[dict], seconds: float) -> str:
    top1 = summaries[0]["top1"]  # accuracy does not depend on the analysis settings
    if len(summaries) == 1:
        s = summaries[0]
        return f"top-1 {top1:.2f}, active heads {s['active_heads']}, active FFNs {s['active_ffns']} ({seconds:.1f} s)"
    heads = sorted(s["active_heads"] for s in summaries)
    ffns = sorted(s["active_ffns"] for s in summaries)
    return (f"top-1 {top1:.2f}, active heads {heads[0]}–{heads[-1]}, active FFNs {ffns[0]}–{ffns[-1]} "
            f"over {len(summaries)} analyses ({seconds:.1f} s)")


def _run_frame(config: PipelineConfig, device: str, analysis_ids: list[str]) -> pl.DataFrame:
    import duckdb
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "duckdb": duckdb.__version__, "polars": pl.__version__}
    n = len(analysis_ids)
    return pl.DataFrame({
        "run_id": [uuid.uuid4().hex[:12]] * n, "analysis_id": analysis_ids, "pipeline": [config.name] * n,
        "device": [device] * n, "versions": [json.dumps(versions)] * n,
        "started_at": [datetime.now(timezone.utc).replace(tzinfo=None)] * n,
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
        SELECT revision, any_value(content_hash) AS content_hash FROM revisions
        WHERE model = '{model.replace("'", "''")}' GROUP BY revision ORDER BY min(ordinal)""")
    for group in find_duplicates(dict(zip(rows["revision"].to_list(), rows["content_hash"].to_list()))):
        print(f"warning: identical weights in {model}: {', '.join(group)} (a re-uploaded or duplicated checkpoint)")
