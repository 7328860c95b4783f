"""The IFR stage: load, trace every probe prompt once for every (τ, FFN renormalisation) the analyses need,
then per analysis accuracy, role scores and roles, circuits, routes and the logit lens (trajectory.pipeline.frames).
Its mark is the revisions row."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.hub.source import revision_step
from trajectory.ifr import Variant, trace_variants
from trajectory.ifr.memory import TraceShape, memory_budget, plan_chunks
from trajectory.lens.answer import AnswerLens
from trajectory.lens.attention import RootAttention, root_attention_frame
from trajectory.lens.nodes import NodeLens, node_lens_frame, route_nodes
from trajectory.models.architectures import architecture_of, readout
from trajectory.pipeline.frames import lens_frame, prompt_frame, revision_frames, token_texts
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite
from trajectory.prompts import encode_probe_set
from trajectory.store.analyses import Analysis

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from trajectory.config import PipelineConfig
    from trajectory.models.capture import LayerParts
    from trajectory.pipeline.revision import LoadedModels

log = logging.getLogger(__name__)
# Keyed by (analysis_id, revision); ``revisions`` is written last, as the mark of a finished revision.
TABLES = ("accuracy", "component_scores", "roles", "circuits", "logit_lens", "routes", "node_lens", "root_attention", "revisions")


def ifr_revision(
    config: PipelineConfig,
    models: LoadedModels,
    revision: Revision,
    ordinal: int,
    probes: ProbeSet,
    analyses: list[Analysis],
    run: pl.DataFrame,
    device: str,
    bar: tqdm,
    said: set[str],
) -> StageWrite:
    """Load, trace once for every (τ, FFN renormalisation) the analyses need, score: all the analyses' rows
    of this revision."""
    started = time.perf_counter()
    bar.set_postfix_str(f"{revision.name}: load")
    model, tokenizer = models.get(revision.name, config.model.dtype)
    source = models.source
    encoded = encode_probe_set(tokenizer, probes)
    for fact, reason in encoded.skipped:
        log.warning("fact %d (%s, %r) skipped: %s", fact.fact_id, fact.relation, fact.subject, reason)
    bar.set_postfix_str(f"{revision.name}: trace")
    variant_of = {a.analysis_id: Variant(a.tau, a.ffn_renormalisation) for a in analyses}
    shape = model.config
    plan = plan_chunks(
        len(encoded.facts),
        encoded.input_ids.shape[1],
        TraceShape.of(shape),
        memory_budget(device, config.ifr.memory_gb),
        config.ifr.batch_size,
    )
    choice = f"{len(encoded.facts)} prompts, T={encoded.input_ids.shape[1]}, {plan.batch_size} at a time"
    if choice not in said:  # once per ingest, and again whenever the choice changes (not the free memory)
        said.add(choice)
        bar.write(plan.describe(len(encoded.facts), encoded.input_ids.shape[1]))
    # The logit lens reads each layer's output from the same pass (METHOD: no second forward).
    lens = AnswerLens.of(encoded, shape.num_hidden_layers)
    architecture = architecture_of(model)
    read = readout(model, architecture)
    # Each fact's route graph at the position predicting its first answer token (the routes page).
    roots = torch.tensor([a[0] - 1 for a in encoded.answer_positions]) if config.store.routes else None
    # With the routes, what each of their nodes says under the same lens (the routes page shows it on a click).
    nodes = NodeLens.of(len(encoded.facts), shape.num_hidden_layers, encoded.input_ids.shape[1]) if config.store.routes else None
    # and where each head looks from that root (the component page).
    attention = RootAttention.of(roots, shape.num_hidden_layers, shape.num_attention_heads, encoded.input_ids.shape[1]) if roots is not None else None

    def observe_parts(rows: torch.Tensor, layer: int, parts: LayerParts) -> None:
        nodes.observe(rows, layer, parts, read, architecture.parallel)
        attention.observe(rows, layer, parts)

    results = trace_variants(
        model,
        encoded.input_ids,
        encoded.attention_mask,
        list(variant_of.values()),
        return_attn=False,
        batch_size=plan.batch_size,
        max_chunk_elements=plan.max_chunk_elements,
        on_layer_output=lambda rows, layer, y: lens.observe(rows, layer, y, read),
        on_layer_parts=None if roots is None else observe_parts,
        route_roots=roots,
    )
    del model
    read = None  # the readout holds the model's weights; on_layer_output is done with it
    bar.set_postfix_str(f"{revision.name}: roles")
    prompt_of = {f.fact_id: row for row, f in enumerate(encoded.facts)}
    fact_ids = np.array([f.fact_id for f in encoded.facts])
    decode = lambda ids: tokenizer.batch_decode([[i] for i in ids])  # noqa: E731 - each token alone
    frames, summaries = {}, []
    for analysis in analyses:
        tables, summary = revision_frames(
            analysis.analysis_id,
            config.repo_id,
            revision.name,
            encoded,
            results[variant_of[analysis.analysis_id]],
            analysis.theta,
            config.store.circuits,
        )
        tables["logit_lens"] = lens_frame(analysis.analysis_id, config.repo_id, revision.name, encoded, lens)
        if nodes is not None and "routes" in tables:
            on_routes = route_nodes(tables["routes"])
            keys = {"analysis_id": pl.lit(analysis.analysis_id), "model": pl.lit(config.repo_id), "revision": pl.lit(revision.name)}
            tables["node_lens"] = node_lens_frame(on_routes, nodes, prompt_of, decode).with_columns(**keys)
            tables["root_attention"] = root_attention_frame(attention, fact_ids).with_columns(**keys)
        frames[analysis.analysis_id] = tables
        summaries.append(summary)
    seconds = time.perf_counter() - started
    commit, content_hash = source.cached_commit(revision.name), source.content_hash(revision.name)
    ingested_at = datetime.now(timezone.utc).replace(tzinfo=None)
    for analysis_id, tables in frames.items():
        tables["revisions"] = pl.DataFrame(
            {
                "analysis_id": [analysis_id],
                "model": [config.repo_id],
                "revision": [revision.name],
                "ordinal": [ordinal],
                "step": [revision_step(source, revision)],
                "tokens": [revision.tokens],
                "stage": [revision.stage],
                "commit": [commit],
                "content_hash": [content_hash],
                "run_id": [run["run_id"][0]],
                "seconds": [seconds],
                "ingested_at": [ingested_at],
            },
            schema_overrides={"ordinal": pl.Int32, "step": pl.Int64, "tokens": pl.Int64, "stage": pl.Int32},
        )
    shared = {
        "prompts": prompt_frame(probes.content_hash, config.repo_id, encoded, token_texts(tokenizer, encoded.input_ids, encoded.lengths.tolist())),
        "runs": run.filter(pl.col("analysis_id").is_in(list(frames))),
    }
    return StageWrite("ifr", revision.name, frames, shared, TABLES, _summary_line(summaries, seconds))


def _summary_line(summaries: list[dict], seconds: float) -> str:
    top1 = summaries[0]["top1"]  # accuracy does not depend on the analysis settings
    if len(summaries) == 1:
        s = summaries[0]
        return f"top-1 {top1:.2f}, active heads {s['active_heads']}, active FFNs {s['active_ffns']} ({seconds:.1f} s)"
    heads = sorted(s["active_heads"] for s in summaries)
    ffns = sorted(s["active_ffns"] for s in summaries)
    return f"top-1 {top1:.2f}, active heads {heads[0]}–{heads[-1]}, active FFNs {ffns[0]}–{ffns[-1]} over {len(summaries)} analyses ({seconds:.1f} s)"


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    return ifr_revision(
        context.config,
        context.models,
        context.revision,
        context.job.ordinal,
        context.probes,
        analyses,
        context.run,
        context.device,
        context.bar,
        context.said,
    )


STAGE = Stage("ifr", "IFR and roles", TABLES, pair=False, enabled=lambda config: True, run=_run)
