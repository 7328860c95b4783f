"""One revision's work, wherever it runs (in the ingest's process, or as a Ray task): load → trace all
prompts once → for every analysis that lacks it: accuracy, role scores and roles (the IFR stage) → the
later stages (ablation, effects, grafting, extractive). Each stage is returned as a :class:`StageWrite` for the
caller to write in its own transaction; nothing here opens the store.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import torch

from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.hub.source import RevisionSource, revision_step
from trajectory.ifr import Variant, trace_variants
from trajectory.ifr.memory import memory_budget, plan_chunks
from trajectory.lens.answer import AnswerLens
from trajectory.models.architectures import architecture_of, context_length, readout
from trajectory.pipeline.frames import lens_frame, prompt_frame, revision_frames, token_texts
from trajectory.pipeline.stages import (AblationInputs, StageWrite, ablation_inputs, ablation_revision, computed_ablation_inputs,
                                        effects_revision, extractive_revision, grafting_revision)
from trajectory.prompts import beyond_context, encode_probe_set
from trajectory.store.analyses import Analysis
from trajectory.store.db import REVISION_TABLES

log = logging.getLogger(__name__)
# The stages after IFR, in the order they run; grafting and extractive take the revision with the next selected one.
PAIR_STAGES = ("grafting", "extractive")


@dataclass(frozen=True)
class RevisionJob:
    """What one revision still needs: per stage, the analyses that lack it."""

    revision: Revision
    ordinal: int  # the revision's index among all of the repository's revisions
    following: Revision | None  # the next selected revision (donor, W′), None for the last
    needed: dict[str, tuple[Analysis, ...]]  # stage -> analyses
    stored_ablation_inputs: AblationInputs = field(default_factory=dict)  # for analyses whose IFR stage was stored before
    role_test: bool = False  # the ablation stage runs the role-causality test's draws here (config.ablation_test_every)

    def downloads(self) -> list[str]:
        """The revisions this job loads: its own, and the next one when a pair stage runs."""
        pair = self.following is not None and any(self.needed.get(stage) for stage in PAIR_STAGES)
        return [self.revision.name] + ([self.following.name] if pair else [])


class LoadedModels:
    """Loaded revisions, so that a revision loaded as the "after" of one pair is not loaded again as the
    "before" of the next. Holds at most the ones in use. ``downloads``: revisions whose download is under
    way elsewhere (the ingest's prefetch), waited for instead of started again."""

    def __init__(self, source: RevisionSource, device: str) -> None:
        self.source, self.device = source, device
        self.loaded: dict[tuple[str, str], tuple] = {}
        self.downloads: dict[str, Future] = {}

    def get(self, name: str, dtype: str):
        key = (name, dtype)
        if key not in self.loaded:
            pending = self.downloads.get(name)
            if pending is not None:
                pending.result()
            else:
                self.source.download(name)  # a no-op when it is on disk
            self.loaded[key] = self.source.load(name, dtype=dtype, device=self.device)
        return self.loaded[key]

    def keep_only(self, dtype: str) -> None:
        """Drop the loaded copies of other dtypes (a 7B model's bfloat16 copy before its float32 pair)."""
        self.loaded = {k: v for k, v in self.loaded.items() if k[1] == dtype}

    def release_except(self, revision: Revision | None) -> None:
        keep = revision.name if revision is not None else None
        self.loaded = {k: v for k, v in self.loaded.items() if k[0] == keep}


def run_job(config, job: RevisionJob, models: LoadedModels, probes: ProbeSet, run: pl.DataFrame, device: str, bar,
            said: set[str]) -> Iterator[StageWrite]:
    """The job's stages in order, each yielded as soon as it is computed (the caller writes it before the
    next one starts). The ablation stage reads the IFR rows this job computed, or those stored before."""
    model, tokenizer = models.get(job.revision.name, config.dtype)
    context = context_length(model.config)
    too_long = beyond_context(tokenizer, probes, context)
    if too_long:  # refused in every stage, named once per ingest
        for fact, length in too_long:
            line = (f"fact {fact.fact_id} ({fact.relation}, {fact.subject[:40]!r}) left out: its sentence is {length} tokens, "
                    f"longer than the model's context of {context}")
            if line not in said:
                said.add(line)
                bar.write(f"warning: {line}")
        probes = probes.without({fact.fact_id for fact, _ in too_long})
        if not len(probes):
            raise TrajectoryError("every probe fact is longer than the model's context")
    del model
    ifr = None
    if job.needed.get("ifr"):
        ifr = ifr_revision(config, models, job.revision, job.ordinal, probes, list(job.needed["ifr"]), run, device, bar, said)
        yield ifr
    if job.needed.get("ablation"):
        inputs = {**job.stored_ablation_inputs, **(computed_ablation_inputs(ifr) if ifr is not None else {})}
        yield ablation_revision(config, models, job.revision, probes, list(job.needed["ablation"]), inputs, device, bar,
                                job.role_test)
    if job.needed.get("effects"):
        yield effects_revision(config, models, job.revision, probes, list(job.needed["effects"]), device, bar)
    for stage, run_stage in (("grafting", grafting_revision), ("extractive", extractive_revision)):
        if job.needed.get(stage):
            yield run_stage(config, models, job.revision, job.following, probes, list(job.needed[stage]), device, bar)


def ifr_revision(config, models: LoadedModels, revision: Revision, ordinal: int, probes: ProbeSet, analyses: list[Analysis],
                 run: pl.DataFrame, device: str, bar, said: set[str]) -> StageWrite:
    """Load, trace once for every (τ, FFN renormalisation) the analyses need, score: all the analyses' rows
    of this revision."""
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
    # Each fact's route graph at the position predicting its first answer token (the routes page).
    roots = torch.tensor([a[0] - 1 for a in encoded.answer_positions]) if config.store_routes else None
    results = trace_variants(model, encoded.input_ids, encoded.attention_mask, list(variant_of.values()),
                             return_attn=False, batch_size=plan.batch_size, max_chunk_elements=plan.max_chunk_elements,
                             on_layer_output=lambda rows, layer, y: lens.observe(rows, layer, y, read), route_roots=roots)
    del model
    read = None  # the readout holds the model's weights; on_layer_output is done with it
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
            "step": [revision_step(source, revision)], "tokens": [revision.tokens], "stage": [revision.stage], "commit": [commit], "content_hash": [content_hash],
            "run_id": [run["run_id"][0]], "seconds": [seconds], "ingested_at": [ingested_at],
        }, schema_overrides={"ordinal": pl.Int32, "step": pl.Int64, "tokens": pl.Int64, "stage": pl.Int32})
    shared = {"prompts": prompt_frame(probes.content_hash, config.repo_id, encoded, token_texts(tokenizer, encoded.input_ids, encoded.lengths.tolist())),
              "runs": run.filter(pl.col("analysis_id").is_in(list(frames)))}
    return StageWrite("ifr", revision.name, frames, shared, REVISION_TABLES, _summary_line(summaries, seconds))


def _summary_line(summaries: list[dict], seconds: float) -> str:
    top1 = summaries[0]["top1"]  # accuracy does not depend on the analysis settings
    if len(summaries) == 1:
        s = summaries[0]
        return f"top-1 {top1:.2f}, active heads {s['active_heads']}, active FFNs {s['active_ffns']} ({seconds:.1f} s)"
    heads = sorted(s["active_heads"] for s in summaries)
    ffns = sorted(s["active_ffns"] for s in summaries)
    return (f"top-1 {top1:.2f}, active heads {heads[0]}–{heads[-1]}, active FFNs {ffns[0]}–{ffns[-1]} "
            f"over {len(summaries)} analyses ({seconds:.1f} s)")


def with_stored_inputs(db: Path, job: RevisionJob) -> RevisionJob:
    """The job with the stored IFR rows its ablation stage reads, for the analyses whose IFR stage is not redone."""
    redone = {a.analysis_id for a in job.needed.get("ifr", ())}
    from_store = [a.analysis_id for a in job.needed.get("ablation", ()) if a.analysis_id not in redone]
    return replace(job, stored_ablation_inputs=ablation_inputs(db, job.revision.name, from_store)) if from_store else job


def run_frame(config: PipelineConfig, device: str, analysis_ids: list[str]) -> pl.DataFrame:
    import duckdb
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "duckdb": duckdb.__version__, "polars": pl.__version__}
    n = len(analysis_ids)
    return pl.DataFrame({
        "run_id": [uuid.uuid4().hex[:12]] * n, "analysis_id": analysis_ids, "pipeline": [config.name] * n,
        "device": [device] * n, "versions": [json.dumps(versions)] * n,
        "started_at": [datetime.now(timezone.utc).replace(tzinfo=None)] * n,
    })
