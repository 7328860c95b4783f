"""The ablation stage (issues #16, #36): causal checks of the revision's circuits and role sets, the plan of
trajectory.ablation.plan for every analysis measured in one batched run per analysis on the model the IFR stage
loaded. Circuits come from that stage's per-root rows of the revision (as stored, or as just computed in the same
job), and the role sets are re-classified from them on the defining half of the facts. The role-causality test's
draws run on one revision in ``ablation.test_every`` and the last; the threshold-free top-k curve traces IFR
importance (trajectory.ifr, trajectory.topk) — this module composes those measures, none imports another."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from trajectory.ablation.hooks import mean_replacement, zero_replacement
from trajectory.ablation.measure import MIN_EFFECT, run_rows
from trajectory.ablation.plan import AblationPlan, revision_plan, sample_per_relation, split_halves
from trajectory.config import AblationSection, PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.ifr import trace
from trajectory.models.architectures import architecture_of
from trajectory.paths import SQL_DIR
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite, one_in, stage_write
from trajectory.prompts import EncodedProbes, encode_probe_set, encode_prompts, fact_prompts
from trajectory.stats.roles import fact_activity, resampled_roles
from trajectory.store.analyses import Analysis
from trajectory.store.db import insert_frame, memory_store, reader
from trajectory.topk.importance import component_importance, k_grid, topk_ablations

if TYPE_CHECKING:
    import duckdb
    from tqdm.auto import tqdm
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from trajectory.ablation.hooks import Replacement
    from trajectory.pipeline.revision import LoadedModels

TABLES = ("ablations", "stage_runs")  # the revision's ablated rows, then its mark
AblationInputs = dict[str, pl.DataFrame]  # analysis_id -> per-root circuit rows of one revision


_DEFAULTS = AblationSection()  # one default per setting: the pipeline's [ablation] section's


@dataclass(frozen=True)
class AblationSettings:
    mode: str = _DEFAULTS.mode  # replacement: the mean over the probe prompts' real positions, or zero
    draws: int = _DEFAULTS.draws  # random controls per role set, on every fact it is measured on
    facts_per_relation: int = _DEFAULTS.facts_per_relation  # the role × relation matrix: this many held-out facts of each relation (0: all)
    seed: int = _DEFAULTS.seed
    test_draws: int = 0  # controls of the role-causality test on this revision (0: not one the test runs on)
    rows_per_pass: int = _DEFAULTS.batch_size
    topk: bool = _DEFAULTS.topk  # the threshold-free curve: each fact's top-k components by IFR importance kept, the rest ablated


def _component_index(rows: pl.DataFrame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows with kind, layer, head (NULL for FFNs) -> layer, is_head, head (0 for FFNs) as tensors."""
    layer = torch.tensor(rows["layer"].to_numpy().astype(np.int64))
    is_head = torch.tensor((rows["kind"] == "head").to_numpy())
    head = torch.tensor(rows["head"].fill_null(0).to_numpy().astype(np.int64))
    return layer, is_head, head


def circuit_masks(circuits: pl.DataFrame, fact_ids: list[int], n_layers: int, n_heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows (fact_id, kind, layer, head) -> heads [F, L, H], ffns [F, L] bool in ``fact_ids`` order."""
    heads = torch.zeros(len(fact_ids), n_layers, n_heads, dtype=torch.bool)
    ffns = torch.zeros(len(fact_ids), n_layers, dtype=torch.bool)
    index = {f: i for i, f in enumerate(fact_ids)}
    circuits = circuits.filter(pl.col("fact_id").is_in(fact_ids))
    row = torch.tensor(circuits["fact_id"].replace_strict(index, return_dtype=pl.Int64).to_numpy())
    layer, is_head, head = _component_index(circuits)
    heads[row[is_head], layer[is_head], head[is_head]] = True
    ffns[row[~is_head], layer[~is_head]] = True
    return heads, ffns


def plan_frame(plan: AblationPlan, reward: torch.Tensor, answer_rank: torch.Tensor, fact_ids: list[int]) -> pl.DataFrame:
    """Table ``ablations`` (without its keys): one row per measured (configuration, prompt)."""
    config = plan.config_of_row.numpy()
    sizes_h = plan.ablation.heads.flatten(1).sum(1).numpy()
    sizes_f = plan.ablation.ffns.sum(1).numpy()
    labels = pl.DataFrame(
        {"target": plan.target, "role": plan.role, "relation": plan.relation, "draw": plan.draw},
        schema={"target": pl.Utf8, "role": pl.Utf8, "relation": pl.Utf8, "draw": pl.Int32},
    )
    return labels[config].with_columns(
        pl.Series("fact_id", np.asarray(fact_ids, dtype=np.int32)[plan.prompt_of_row.numpy()]),
        pl.Series("n_heads", sizes_h[config].astype(np.int32)),
        pl.Series("n_ffns", sizes_f[config].astype(np.int32)),
        pl.Series("reward", reward.double().numpy()),
        pl.Series("answer_rank", answer_rank.numpy().astype(np.int32)),
        pl.Series("top1", (answer_rank == 0).numpy()),
    )


def run_stage(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    probes: ProbeSet,
    inputs: dict[str, pl.DataFrame],
    thetas: dict[str, float],
    settings: AblationSettings,
    device: torch.device | str,
) -> tuple[dict[str, pl.DataFrame], str]:
    """inputs: analysis_id -> this revision's per-root circuit rows (fact_id, root, kind, layer, head); thetas:
    analysis_id -> θ. Returns analysis_id -> ablations frame, and a line for the log."""
    encoded = encode_probe_set(tokenizer, probes)  # the facts the IFR stage traced, with its positions
    facts = encoded.facts
    batch = encode_prompts(tokenizer, fact_prompts(facts)).to(device)
    fact_ids = [f.fact_id for f in facts]
    relations = sorted({f.relation for f in facts})
    relation_of = torch.tensor([relations.index(f.relation) for f in facts])
    shape = model.config
    n_layers, n_heads = shape.num_hidden_layers, shape.num_attention_heads
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask) if settings.mode == "mean" else zero_replacement(model)
    topk = topk_rows(model, batch, replacement, fact_ids, settings) if settings.topk else None
    frames, rows, faithful = {}, 0 if topk is None else topk.height, []
    for analysis_id, members in inputs.items():
        generator = torch.Generator().manual_seed(settings.seed)  # the same halves, prompts and draws for every analysis
        defining = split_halves(relation_of, generator)
        role_prompts = sample_per_relation(relation_of, settings.facts_per_relation, generator, among=~defining)
        heads, ffns = circuit_masks(members, fact_ids, n_layers, n_heads)
        head_roles, ffn_roles = defining_roles(members, encoded, defining, relations, thetas[analysis_id], n_layers, n_heads)
        plan = revision_plan(
            heads, ffns, head_roles, ffn_roles, relations, relation_of, ~defining, role_prompts, settings.draws, settings.test_draws, generator
        )
        outcome = run_rows(model, batch, plan.ablation, replacement, plan.config_of_row, plan.prompt_of_row, settings.rows_per_pass)
        frames[analysis_id] = plan_frame(plan, outcome.reward, outcome.answer_rank, fact_ids)
        if topk is not None:  # the curve does not depend on the analysis: the same rows for each
            frames[analysis_id] = pl.concat([frames[analysis_id], topk], how="vertical_relaxed")
        rows += len(plan.config_of_row)
        faithful.append(_median_faithfulness(frames[analysis_id]))
    shown = ", ".join("n/a" if f is None else f"{f:.2f}" for f in faithful)
    tested = f", role sets tested against {settings.test_draws} draws" if settings.test_draws else ""
    return frames, (f"{rows} ablated rows ({rows / max(1, len(fact_ids)):.0f} forward passes' worth){tested}, faithfulness median {shown}")


def defining_roles(
    members: pl.DataFrame, encoded: EncodedProbes, defining: torch.Tensor, relations: list[str], theta: float, n_layers: int, n_heads: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Role codes (indices into ROLES) heads [Q, L, H], ffns [Q, L] of METHOD.md §4 scored over the defining
    facts only (defining [N] bool, in ``encoded.facts`` order), from the per-root circuit rows (fact_id, root,
    kind, layer, head): trajectory.stats.roles with weight 1 on a defining fact and 0 on a held-out one."""
    fact_ids = [f.fact_id for f in encoded.facts]
    relation_of = torch.tensor([relations.index(f.relation) for f in encoded.facts])
    members = members.filter(pl.col("fact_id").is_in(fact_ids))
    row = torch.tensor(members["fact_id"].replace_strict({f: i for i, f in enumerate(fact_ids)}, return_dtype=pl.Int64).to_numpy())
    root = torch.tensor(members["root"].to_numpy().astype(np.int64))
    layer, is_head, head = _component_index(members)
    component = torch.where(is_head, layer * n_heads + head, n_layers * n_heads + layer)
    activity = torch.zeros(*encoded.input_ids.shape, n_layers * n_heads + n_layers, dtype=torch.bool)
    activity[row, root, component] = True
    subject, predicting = encoded.masks()
    per_fact = fact_activity(activity, encoded.attention_mask.bool(), subject, predicting)
    codes = resampled_roles(per_fact, defining.double()[None], relation_of, len(relations), theta)[0].long()  # [Q, C]
    return codes[:, : n_layers * n_heads].reshape(len(relations), n_layers, n_heads), codes[:, n_layers * n_heads :]


def topk_rows(
    model: PreTrainedModel, batch: EncodedProbes, replacement: Replacement, fact_ids: list[int], settings: AblationSettings
) -> pl.DataFrame:
    """Rows of target ``topk``: per fact (its own prompt) and k of the grid (trajectory.topk.importance.k_grid),
    the k components of largest IFR importance at the last prompt token kept and the rest ablated; n_heads and
    n_ffns count the ablated ones, so k = all components − n_heads − n_ffns."""
    contributions = trace(
        model, batch.input_ids, batch.attention_mask, threshold=0.0, return_attn=True, batch_size=max(1, settings.rows_per_pass // 4)
    )
    heads, ffns = component_importance(
        contributions.attn,
        contributions.attn_residual,
        contributions.ffn,
        contributions.ffn_residual,
        batch.position.cpu(),
        architecture_of(model).parallel,
    )
    n_layers, n_heads = heads.shape[1:]
    grid = k_grid(n_layers * n_heads + n_layers)
    ablation = topk_ablations(heads, ffns, grid)
    rows = torch.arange(len(ablation))
    outcome = run_rows(model, batch, ablation, replacement, rows, rows // len(grid), settings.rows_per_pass)
    plan = AblationPlan(
        ablation, ["topk"] * len(ablation), [None] * len(ablation), [None] * len(ablation), [None] * len(ablation), rows, rows // len(grid)
    )
    return plan_frame(plan, outcome.reward, outcome.answer_rank, fact_ids)


def _median_faithfulness(frame: pl.DataFrame) -> float | None:
    wide = frame.filter(pl.col("target").is_in(["clean", "circuit_only", "none"])).pivot("target", index="fact_id", values="reward")
    denominator = wide["clean"] - wide["none"]
    ratio = ((wide["circuit_only"] - wide["none"]) / denominator).filter(denominator >= MIN_EFFECT)
    return None if ratio.is_empty() else float(ratio.median())


def ablation_inputs(db: Path, revision: str, analysis_ids: list[str]) -> AblationInputs:
    """analysis_id -> per-root circuit rows of the revision, as the IFR stage stored them."""
    if not analysis_ids:
        return {}
    with reader(db) as con:
        return _ablation_inputs(con, revision, analysis_ids)


def computed_ablation_inputs(ifr: StageWrite) -> AblationInputs:
    """The same rows from an IFR stage's frames not yet stored: the same SQL over an in-memory store, so
    that columns and types are the stored ones."""
    with memory_store() as con:
        for tables in ifr.frames.values():
            if "circuits" in tables and tables["circuits"].height:
                insert_frame(con, "circuits", tables["circuits"])
        return _ablation_inputs(con, ifr.revision, list(ifr.frames))


def _ablation_inputs(con: duckdb.DuckDBPyConnection, revision: str, analysis_ids: list[str]) -> AblationInputs:
    params = {"revision": revision, "analyses": analysis_ids}
    circuits = pl.from_arrow(con.sql((SQL_DIR / "stages" / "ablation_circuits.sql").read_text(), params=params).to_arrow_table())
    return {a: circuits.filter(pl.col("analysis_id") == a) for a in analysis_ids}


def ablation_settings(config: PipelineConfig, role_test: bool = False) -> AblationSettings:
    """``role_test``: the revision is one of those the role-causality test runs on (config.ablation.test_every)."""
    return AblationSettings(
        mode=config.ablation.mode,
        draws=config.ablation.draws,
        facts_per_relation=config.ablation.facts_per_relation,
        seed=config.ablation.seed,
        test_draws=config.ablation.test_draws if role_test else 0,
        rows_per_pass=config.ablation.batch_size,
        topk=config.ablation.topk,
    )


def ablation_revision(
    config: PipelineConfig,
    models: LoadedModels,
    revision: Revision,
    probes: ProbeSet,
    analyses: list[Analysis],
    inputs: AblationInputs,
    device: str,
    bar: tqdm,
    role_test: bool = False,
) -> StageWrite:
    """The ablation stage of one revision, for every analysis in ``analyses``, from their per-root circuit rows;
    ``role_test``: with the role-causality test's draws."""
    started = time.perf_counter()
    settings = ablation_settings(config, role_test)
    bar.set_postfix_str(f"{revision.name}: ablation")
    inputs = {a.analysis_id: inputs.get(a.analysis_id, pl.DataFrame()) for a in analyses}
    for a, circuit_rows in inputs.items():
        if circuit_rows.is_empty():  # ingested with store.circuits = false: no circuit to keep
            raise TrajectoryError(
                f"{revision.name}: analysis {a} has no stored circuits for the ablation stage; "
                "re-run the IFR stage with store.circuits = true (trajectory ingest --force)"
            )
    model, tokenizer = models.get(revision.name, config.model.dtype)
    thetas = {a.analysis_id: a.theta for a in analyses}
    frames, summary = run_stage(model, tokenizer, probes, inputs, thetas, settings, device)
    seconds = time.perf_counter() - started
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    by_analysis = {a: {"ablations": frame.with_columns(pl.lit(a).alias("analysis_id"), *keys)} for a, frame in frames.items()}
    return stage_write(config, revision, by_analysis, "ablation", None, asdict(settings), seconds, TABLES, f"{summary} ({seconds:.1f} s)")


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    ifr = context.earlier.get("ifr")
    inputs = {**context.job.stored_inputs.get("ablation", {}), **(computed_ablation_inputs(ifr) if ifr is not None else {})}
    role_test = one_in(context.config.ablation.test_every, context.job.ordinal, context.job.n_revisions)
    return ablation_revision(
        context.config, context.models, context.revision, context.probes, analyses, inputs, context.device, context.bar, role_test
    )


STAGE = Stage("ablation", "ablation", TABLES, pair=False, enabled=lambda config: config.ablation.enabled, run=_run, stored_inputs=ablation_inputs)
