"""Intervals and tests of everything an analysis reports, computed from its stored rows at the end of an
ingest and stored beside them (tables ``intervals`` and ``comparisons``, sql/schema/009_intervals.sql), so
that findings, queries and pages read them and nothing is resampled per page load.

The probe fact is the resampling unit (trajectory.stats): facts are drawn with replacement within each
relation; the same draws serve every revision, so that a role set at revision k and at the final revision
are compared under one probe set. Inputs are the queries of ``sql/intervals/``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch
from scipy.stats import binomtest

from trajectory.config import MIN_TEST_DRAWS, IntervalsSection
from trajectory.paths import SQL_DIR
from trajectory.pipeline.resampled_roles import ResampledRoles, resample_roles
from trajectory.roles.scores import ROLES
from trajectory.stats import (
    adjusted_p,
    learning_steps,
    percentile_interval,
    permutation_p,
    ratio_interval,
    relation_type_order,
    share_interval,
    stratified_resamples,
    within_relation_order,
)
from trajectory.stats.groups import group_statistic
from trajectory.stats.resampling import percentile_intervals
from trajectory.stats.role_tests import NORMAL, calibration_p, leave_one_out_p, normal_p, tail_p, untestable_reason
from trajectory.stats.roles import FactActivity, resampled_roles, set_iou
from trajectory.store.db import reader, replace_intervals, scope

if TYPE_CHECKING:
    import duckdb

FINDING = 0.05  # a comparison is a finding when its (adjusted) p is below this
WILSON = 0  # the `resamples` of an interval that is no bootstrap: a share's Wilson interval
RELATION_PERMUTATION = "relation permutation"  # exact, over every assignment of relation labels (n_a, n_b: relations)
WITHIN_RELATIONS = "within-relation permutation"  # labels shuffled within each relation, B draws (n_a, n_b: facts in
# relations holding both groups)


_DEFAULTS = IntervalsSection()  # one default per setting: the pipeline's [intervals] section's


@dataclass(frozen=True)
class IntervalSettings:
    resamples: int = _DEFAULTS.resamples  # bootstrap draws of shares, ratios and differences
    role_resamples: int = _DEFAULTS.role_resamples  # of roles, IoU and transitions (each re-classifies every revision)
    level: float = _DEFAULTS.level
    seed: int = 0


def interval_query(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A query of sql/intervals/ over the (scoped) store."""
    return pl.from_arrow(con.sql((SQL_DIR / "intervals" / f"{name}.sql").read_text()).to_arrow_table())


ROLE_TEST_SCHEMA = {
    "analysis_id": pl.Utf8,
    "model": pl.Utf8,
    "revision": pl.Utf8,
    "role": pl.Utf8,
    "relation": pl.Utf8,
    "n_heads": pl.Int32,
    "n_ffns": pl.Int32,
    "total_heads": pl.Int32,
    "total_ffns": pl.Int32,
    "n_facts": pl.Int32,
    "n_draws": pl.Int32,
    "effect": pl.Float64,
    "control_mean": pl.Float64,
    "control_sd": pl.Float64,
    "statistic": pl.Float64,
    "p_tail": pl.Float64,
    "p_rank": pl.Float64,
    "normal_p": pl.Float64,
    "calibration_p": pl.Float64,
    "pseudo_below_05": pl.Float64,
    "test": pl.Utf8,
    "p": pl.Float64,
    "p_adjusted": pl.Float64,
    "finding": pl.Boolean,
    "reason": pl.Utf8,
}


class _Rows:
    """Collects interval and comparison rows of one analysis."""

    def __init__(self, analysis_id: str, model: str, settings: IntervalSettings) -> None:
        self.key, self.settings = {"analysis_id": analysis_id, "model": model}, settings
        self.intervals: list[dict] = []
        self.comparisons: list[dict] = []
        self.role_tests: list[dict] = []

    def interval(
        self,
        measure: str,
        estimate: float,
        low: float,
        high: float,
        n: int,
        resamples: int,
        revision: str | None = None,
        scope: str = None,
        category: str = None,
        to_category: str | None = None,
        relation: str | None = None,
    ) -> None:
        self.intervals.append(
            {
                **self.key,
                "measure": measure,
                "revision": revision,
                "scope": scope,
                "category": category,
                "to_category": to_category,
                "estimate": estimate,
                "lower": low,
                "upper": high,
                "n": int(n),
                "level": self.settings.level,
                "resamples": resamples,
                "relation": relation,
            }
        )

    def comparison(self, family: str, test: str, **values: object) -> None:
        self.comparisons.append({**self.key, "family": family, "test": test, **values})

    def frames(self) -> dict[str, pl.DataFrame]:
        interval_schema = {
            "analysis_id": pl.Utf8,
            "model": pl.Utf8,
            "measure": pl.Utf8,
            "revision": pl.Utf8,
            "scope": pl.Utf8,
            "category": pl.Utf8,
            "to_category": pl.Utf8,
            "estimate": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "n": pl.Int32,
            "level": pl.Float64,
            "resamples": pl.Int32,
            "relation": pl.Utf8,
        }
        comparison_schema = {
            "analysis_id": pl.Utf8,
            "model": pl.Utf8,
            "family": pl.Utf8,
            "test": pl.Utf8,
            "revision": pl.Utf8,
            "subject": pl.Utf8,
            "a": pl.Utf8,
            "b": pl.Utf8,
            "estimate": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "statistic": pl.Float64,
            "p": pl.Float64,
            "p_adjusted": pl.Float64,
            "n_a": pl.Int32,
            "n_b": pl.Int32,
            "finding": pl.Boolean,
        }
        comparisons = [{**{k: None for k in comparison_schema}, **row} for row in self.comparisons]
        return {
            "intervals": pl.DataFrame(self.intervals, schema=interval_schema),
            "comparisons": pl.DataFrame(comparisons, schema=comparison_schema),
            "role_tests": pl.DataFrame(self.role_tests, schema=ROLE_TEST_SCHEMA),
        }


def store_intervals(db: Path, analysis_id: str, settings: IntervalSettings = IntervalSettings()) -> dict[str, pl.DataFrame]:
    """Compute the analysis's intervals and tests from the store and replace its stored ones; returns the rows."""
    with reader(Path(db)) as con:
        ((model, theta),) = con.execute("SELECT model, theta FROM analyses WHERE analysis_id = ?", [analysis_id]).fetchall()
        scope(con, [analysis_id])
        rows = _Rows(analysis_id, model, settings)
        _accuracy(con, rows)
        for source in GROUP_SOURCES:
            _groups(con, rows, source)
        # The stored circuits, read once: the roles under resampling and per template both re-classify them.
        circuits = interval_query(con, "circuit_members"), interval_query(con, "fact_positions")
        names = dict(con.sql("SELECT ordinal, revision FROM revisions").fetchall())
        resampled = resample_roles(*circuits, theta, settings.role_resamples, settings.seed)
        _roles(rows, resampled, names)
        _effect_roles(con, rows, resampled, theta, names)
        _grafting(con, rows)
        _role_controls(con, rows)
        _ocr(con, rows)
        templates = _template_roles(con, analysis_id, model, theta, *circuits, names)
    frames = rows.frames() | {"template_roles": templates}
    replace_intervals(db, analysis_id, frames)
    return frames


def _accuracy(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    s = rows.settings
    facts = interval_query(con, "accuracy_facts")
    for (revision,), part in facts.group_by("revision", maintain_order=True):
        for kind in ("*", "location", "name"):
            mine = part if kind == "*" else part.filter(pl.col("relation_type") == kind)
            for measure in ("top1", "top10"):
                if mine.height:
                    e = share_interval(mine[measure].to_numpy(), s.level)
                    rows.interval(measure, e.value, e.low, e.high, e.n, WILSON, revision=revision, scope=kind)
    templates = interval_query(con, "fact_templates")
    if templates.height and templates["n_templates"].max() > 1:  # paraphrases: each template's top-1 too
        facts = facts.join(templates.select("fact_id", "template_number"), on="fact_id")
        for (revision, number), part in facts.group_by(["revision", "template_number"], maintain_order=True):
            e = share_interval(part["top1"].to_numpy(), s.level)
            rows.interval("top1", e.value, e.low, e.high, e.n, WILSON, revision=revision, scope=f"template {number}")
    learning = interval_query(con, "learning_facts")
    if learning.is_empty():
        return
    wide = learning.pivot("ordinal", index=["fact_id", "relation", "relation_type"], values="top1", sort_columns=True)
    steps = learning.select("ordinal", "step").unique().sort("ordinal")["step"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    learned = learning_steps(wide.drop("fact_id", "relation", "relation_type").to_numpy().astype(bool), steps)
    kinds, relations = wide["relation_type"].to_numpy(), wide["relation"].to_numpy()
    for kind in ("*", "location", "name"):  # the share of facts learned by the last revision
        mine = np.ones(len(kinds), dtype=bool) if kind == "*" else kinds == kind
        if mine.any():
            e = share_interval(~np.isposinf(learned[mine]), s.level)  # NaN: learned, at an unknown step
            rows.interval("learned", e.value, e.low, e.high, e.n, WILSON, scope=kind)
    # Learning order (METHOD.md §8, the unit follows the claim): relation types with the relation as the unit, and
    # frequency buckets within relations, so that the type of a relation cannot make a frequency difference.
    found = []
    typed = np.isin(kinds, ["location", "name"])
    if len(set(relations[typed & (kinds == "location")])) and len(set(relations[typed & (kinds == "name")])):
        order = relation_type_order(learned[typed], relations[typed], kinds[typed] == "location", s.resamples, s.seed, s.level)
        found.append(("location", "name", RELATION_PERMUTATION, order))
    buckets = interval_query(con, "fact_buckets")
    if buckets.height:
        bucket_of = dict(zip(buckets["fact_id"].to_list(), buckets["bucket"].to_list()))
        labels = np.array([bucket_of.get(f) for f in wide["fact_id"].to_list()], dtype=object)
        chosen = np.isin(labels, ["high", "low"])
        if (labels == "high").any() and (labels == "low").any():
            order = within_relation_order(learned[chosen], relations[chosen], labels[chosen] == "high", s.resamples, s.seed, s.level)
            found.append(("high", "low", WITHIN_RELATIONS, order))
    for (a, b, test, order), p_adjusted in zip(found, adjusted_p(np.array([o.p for *_, o in found]))):
        rows.comparison(
            "emergence",
            test,
            a=a,
            b=b,
            subject="relations" if test == RELATION_PERMUTATION else "facts within relations",
            estimate=order.difference.value,
            lower=order.difference.low,
            upper=order.difference.high,
            statistic=order.statistic,
            p=order.p,
            p_adjusted=float(p_adjusted),
            n_a=order.n_a,
            n_b=order.n_b,
            finding=bool(p_adjusted < FINDING),
        )


def _recorder(rows: _Rows) -> Callable[..., None]:
    """record(measure, values [B + 1]: as stored, then the resamples, n, keys): its percentile interval stored."""
    s = rows.settings

    def record(measure: str, values: np.ndarray, n: int, **keys: object) -> None:
        low, high = percentile_interval(values[1:], s.level)
        if not np.isfinite(values[0]):  # undefined as stored (a role set with no member): no interval either, not the
            low = high = None  # resamples' 0-1 spread, which a page would draw as a band where no line is (issue #38)
        rows.interval(measure, float(values[0]), low, high, n, s.role_resamples, **keys)

    return record


def _roles(rows: _Rows, resampled: ResampledRoles | None, names: dict[int, str]) -> None:
    if resampled is None:
        return
    final = resampled.roles[-1]
    record = _recorder(rows)

    for kind in ("head", "ffn"):
        members = torch.from_numpy(resampled.kinds == kind)
        for k, ordinal in enumerate(resampled.ordinals):
            here = resampled.roles[k][:, :, members]  # [B + 1, R, C']
            strongest = here.min(dim=1).values  # one role per component
            there = final[:, :, members]
            for code, role in enumerate(ROLES):
                keys = {"revision": names[ordinal], "scope": kind, "category": role}
                record("role_count", (strongest == code).sum(1).double().numpy(), int(members.sum()), relation="*", **keys)
                per_relation = (here == code).sum(2).double().numpy()  # [B + 1, R]
                for r, relation in enumerate(resampled.relations):
                    record("role_count", per_relation[:, r], int(members.sum()), relation=relation, **keys)
                if role == "deactivated":
                    continue
                held = (here[0] == code) | (there[0] == code)  # [R, C']: the members at either revision
                record("role_iou", set_iou(here, there, code).numpy(), int(held.sum()), relation="*", **keys)
                per_relation_iou = set_iou(here, there, code, per_relation=True).numpy()  # [B + 1, R]
                for r, relation in enumerate(resampled.relations):
                    record("role_iou", per_relation_iou[:, r], int(held[r].sum()), relation=relation, **keys)
        # Markov transitions, relations pooled: per consecutive pair and over all pairs; counts per resample
        # (one pair at a time, so that memory stays one revision's), then p.
        pooled = torch.zeros(resampled.roles.shape[1], len(ROLES) ** 2, dtype=torch.double)
        for k in range(len(resampled.ordinals) - 1):
            codes = resampled.roles[k][:, :, members].long() * len(ROLES) + resampled.roles[k + 1][:, :, members].long()
            codes = codes.reshape(codes.shape[0], -1)  # [B + 1, members]
            counts = torch.zeros_like(pooled).scatter_add_(1, codes, torch.ones_like(codes, dtype=torch.double))
            pooled += counts
            _transitions(record, counts, kind, revision=names[resampled.ordinals[k]])
        _transitions(record, pooled, kind, revision=None)


def _effect_roles(con: duckdb.DuckDBPyConnection, rows: _Rows, resampled: ResampledRoles | None, theta: float, names: dict[int, str]) -> None:
    """IFR roles against causal roles (view effect_role_agreement) under the role intervals' own draws of facts: the
    causal circuits (view fact_effects) re-classified by the same rule with one root per fact (general, entity and
    answer hits all the membership itself, so no entity role), over the drawn measured facts. Per revision with
    effects and kind: the share of (relation, component) pairs with the same role, and each role set's IoU pooled
    and per relation, over the relations with a measured fact; n = the measured facts."""
    effects = interval_query(con, "effect_members")
    if effects.is_empty() or resampled is None:
        return
    record = _recorder(rows)
    n_facts, n_components = resampled.weights.shape[1], len(resampled.kinds)
    n_layers = int((resampled.kinds == "ffn").sum())
    n_heads = int((resampled.kinds == "head").sum()) // n_layers
    by_id = np.argsort(resampled.fact_ids)
    members = torch.nn.functional.one_hot(resampled.relation_of, len(resampled.relations)).T.double()  # [R, N]
    for (ordinal,), part in effects.group_by("ordinal", maintain_order=True):
        part = part.filter(pl.col("fact_id").is_in(resampled.fact_ids.tolist()))  # facts with a stored prompt, as the IFR roles'
        if ordinal not in resampled.ordinals or part.is_empty():
            continue
        fact_rows = torch.from_numpy(by_id[np.searchsorted(resampled.fact_ids[by_id], part["fact_id"].to_numpy())])  # each row's fact
        layer, head = torch.tensor(part["layer"].to_numpy().astype(np.int64)), torch.tensor(part["head"].to_numpy().astype(np.int64))
        component = torch.where(torch.tensor(part["is_head"].to_numpy()), layer * n_heads + head, n_layers * n_heads + layer)
        measured = torch.zeros(n_facts, dtype=torch.double)
        measured[fact_rows[torch.tensor(part["measured"].to_numpy())]] = 1.0
        causal = torch.zeros(n_facts, n_components, dtype=torch.double)
        hit = torch.tensor(part["causal"].fill_null(False).to_numpy())
        causal[fact_rows[hit], component[hit]] = 1.0
        ones = torch.ones(n_facts, dtype=torch.double)
        classified = resampled_roles(
            FactActivity(causal, causal, ones, causal, ones), resampled.weights * measured, resampled.relation_of, len(resampled.relations), theta
        )  # [B + 1, R, C]
        attributed = resampled.roles[resampled.ordinals.index(ordinal)]
        shown = (members @ measured) > 0  # relations with a measured fact
        n = int(measured.sum())
        for kind in ("head", "ffn"):
            columns = torch.from_numpy(resampled.kinds == kind)
            ifr, eff = attributed[:, shown][:, :, columns], classified[:, shown][:, :, columns]
            keys = {"revision": names[ordinal], "scope": kind}
            record("effect_role_agreement", (ifr == eff).double().mean((1, 2)).numpy(), n, category="all", relation="*", **keys)
            for role in ("general", "relation", "fact"):
                code = ROLES.index(role)
                record("effect_role_agreement", set_iou(ifr, eff, code).numpy(), n, category=role, relation="*", **keys)
                per_relation = set_iou(ifr, eff, code, per_relation=True).numpy()  # [B + 1, R shown]
                for r, relation in enumerate(np.asarray(resampled.relations)[shown.numpy()]):
                    record("effect_role_agreement", per_relation[:, r], n, category=role, relation=str(relation), **keys)


def _transitions(record: Callable[..., None], counts: torch.Tensor, kind: str, revision: str | None) -> None:
    """Transition probabilities from counts [B + 1, from-role × to-role]; a from-role with no members is left out
    (undefined, not zero)."""
    counts = counts.reshape(-1, len(ROLES), len(ROLES))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (counts / counts.sum(2, keepdim=True)).numpy()
    for a, from_role in enumerate(ROLES):
        if counts[0, a].sum() == 0:
            continue
        for b, to_role in enumerate(ROLES):
            record(
                "transition",
                p[:, a, b],
                int(counts[0, a].sum()),
                revision=revision,
                scope=kind,
                category=from_role,
                to_category=to_role,
                relation="*",
            )


# Per-fact measures drawn per group on the causal page: the query of sql/intervals/ and its columns' statistic.
GROUP_SOURCES = {
    "ablation_facts": {
        "faithfulness_median": "median",
        "share_top1_clean": "mean",
        "share_top1_circuit_only": "mean",
        "share_top1_complement": "mean",
        "mean_circuit_components": "mean",
    },
    "lens_facts": {"share_top1_last": "mean", "share_top1_subject": "mean", "share_top10_subject": "mean", "subject_first": "mean"},
    "shape_facts": {"mean_components": "mean", "mean_layer": "mean", "mean_iou_final": "mean", "mean_edge_iou_final": "mean"},
    "topk_facts": {"topk_area": "mean", "topk_k80": "mean"},
    "agreement_facts": {
        "effect_precision": "mean",
        "effect_recall": "mean",
        "effect_iou": "mean",
        "effect_spearman": "mean",
        "atp_spearman": "mean",
        "atp_top10_overlap": "mean",
        "causal_components": "mean",
    },
}
GROUPINGS = {"relation": "relation", "relation type": "relation_type", "bucket": "bucket"}


def _groups(con: duckdb.DuckDBPyConnection, rows: _Rows, source: str) -> None:
    """Every measure of ``source`` per revision over all facts (scope '*') and per relation, relation type and
    frequency bucket, each group resampled within its relations with one draw for all revisions."""
    s = rows.settings
    facts = interval_query(con, source)
    if facts.is_empty():
        return
    facts = facts.with_columns(pl.col("fact_id").cast(pl.Utf8))
    names = dict(facts.select("ordinal", "revision").unique().iter_rows())
    labels = facts.group_by("fact_id").agg(pl.col("relation", "relation_type", "bucket").first()).sort("fact_id")
    ids = labels["fact_id"].to_list()
    groups = [("*", "*", np.ones(labels.height, dtype=bool))]
    for dimension, column in GROUPINGS.items():
        values = labels[column].to_numpy()
        groups += [(dimension, g, values == g) for g in sorted(set(values.tolist()) - {None})]
    for metric, statistic in GROUP_SOURCES[source].items():
        wide = facts.pivot("fact_id", index="ordinal", values=metric, sort_columns=False).sort("ordinal")
        values = wide.select(ids).cast(pl.Float64).to_numpy()  # [K, N], NaN where a fact has no value
        for dimension, group, member in groups:
            draws = stratified_resamples(labels["relation"].to_numpy()[member], s.resamples, s.seed)
            point, resampled, n = group_statistic(values[:, member], draws, statistic)
            lows, highs = percentile_intervals(resampled, s.level)
            for k, ordinal in enumerate(wide["ordinal"].to_list()):
                if n[k]:
                    rows.interval(
                        metric,
                        float(point[k]),
                        float(lows[k]),
                        float(highs[k]),
                        int(n[k]),
                        s.resamples,
                        revision=names[ordinal],
                        scope=dimension,
                        category=group,
                    )


def _template_roles(
    con: duckdb.DuckDBPyConnection, analysis_id: str, model: str, theta: float, members: pl.DataFrame, positions: pl.DataFrame, names: dict[int, str]
) -> pl.DataFrame:
    """Roles of each template's facts alone (a probe set stating facts under several templates), from the stored
    circuits as the roles table's: rows of table template_roles (none for a set of one template per fact)."""
    schema = {
        "analysis_id": pl.Utf8,
        "model": pl.Utf8,
        "revision": pl.Utf8,
        "template_number": pl.Int16,
        "relation": pl.Utf8,
        "kind": pl.Utf8,
        "layer": pl.Int16,
        "head": pl.Int16,
        "role": pl.Utf8,
    }
    templates = interval_query(con, "fact_templates")
    if templates.is_empty() or templates["n_templates"].max() < 2:
        return pl.DataFrame(schema=schema)
    numbers = sorted(set(templates["template_number"].to_list()))
    weights = {
        f: torch.tensor([float(t == n) for n in numbers]) for f, t in zip(templates["fact_id"].to_list(), templates["template_number"].to_list())
    }
    classified = resample_roles(members, positions, theta, 0, weights=weights)
    if classified is None:
        return pl.DataFrame(schema=schema)
    k, t, r, c = (classified.roles != ROLES.index("deactivated")).nonzero(as_tuple=True)  # over [K, W, R, C]
    codes = classified.roles[k, t, r, c].numpy()
    k, t, r, c = (x.numpy() for x in (k, t, r, c))
    return pl.DataFrame(
        {
            "analysis_id": analysis_id,
            "model": model,
            "revision": np.asarray([names[o] for o in classified.ordinals], dtype=object)[k],
            "template_number": np.asarray(numbers)[t].astype(np.int16),
            "relation": np.asarray(classified.relations, dtype=object)[r],
            "kind": classified.kinds[c],
            "layer": classified.layers[c].astype(np.int16),
            "head": classified.heads[c].astype(np.int16),
            "role": np.asarray(ROLES, dtype=object)[codes],
        },
        schema_overrides=schema,
    ).with_columns(pl.when(pl.col("kind") == "head").then(pl.col("head")).alias("head"))


def _grafting(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    s = rows.settings
    grafts = interval_query(con, "grafting_facts")
    if grafts.is_empty() or grafts["n_learned"].sum() == 0:
        return
    by_config = {config: part.sort("fact_id") for (config,), part in grafts.group_by("config", maintain_order=True)}
    for config, part in by_config.items():
        e = ratio_interval(part["n_recovered"].to_numpy(), part["n_learned"].to_numpy(), part["relation"].to_numpy(), s.resamples, s.seed, s.level)
        rows.interval("graft_recovery", e.value, e.low, e.high, e.n, s.resamples, scope="*", category=config, to_category="all")
    # Per pair (revision = the recipient), and per relation type and band of training, pooled over its pairs: a
    # learning is one fact at one pair; learnings are resampled within relation.
    learnings = interval_query(con, "graft_learnings")
    for (revision, config), part in learnings.group_by(["revision", "config"], maintain_order=True):
        e = share_interval(part["top1"].to_numpy(), s.level)
        rows.interval("graft_recovery", e.value, e.low, e.high, e.n, WILSON, revision=revision, scope="*", category=config)
    for band in ("all", "early", "middle", "late"):
        within = learnings if band == "all" else learnings.filter(pl.col("band") == band)
        for (kind, config), part in within.group_by(["relation_type", "config"], maintain_order=True):
            e = share_interval(part["top1"].to_numpy(), s.level)
            rows.interval("graft_recovery", e.value, e.low, e.high, e.n, WILSON, scope=kind, category=config, to_category=band)
    _location_against_name(learnings, rows)
    if {"FE", "LT"} <= by_config.keys():  # enrichment against recall, on the same facts and draws
        fe, lt = by_config["FE"], by_config["LT"]
        learned = fe["n_learned"].to_numpy().astype(float)
        draws = stratified_resamples(fe["relation"].to_numpy(), s.resamples, s.seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = lambda hits: hits[draws].sum(1) / learned[draws].sum(1)  # noqa: E731
            differences = share(fe["n_recovered"].to_numpy().astype(float)) - share(lt["n_recovered"].to_numpy().astype(float))
        point = (fe["n_recovered"].sum() - lt["n_recovered"].sum()) / learned.sum()
        low, high = percentile_interval(differences, s.level)
        p = mcnemar_p(learnings.filter(pl.col("config") == "FE"), learnings.filter(pl.col("config") == "LT"))
        rows.comparison(
            "grafting",
            "mcnemar",
            a="FE",
            b="LT",
            estimate=point,
            lower=low,
            upper=high,
            p=p,
            p_adjusted=p,
            n_a=int(learned.sum()),
            n_b=int(learned.sum()),
            finding=p < FINDING,
        )


def mcnemar_p(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """McNemar's exact test of two grafts on the same learnings (rows revision, fact_id, top1 of graft_learnings):
    the two-sided binomial p of the discordant pairs (a right and b wrong against a wrong and b right), 1 when none."""
    paired = a.join(b, on=["revision", "fact_id"], suffix="_b")
    a_only = int(((paired["top1"] > 0) & (paired["top1_b"] == 0)).sum())
    b_only = int(((paired["top1"] == 0) & (paired["top1_b"] > 0)).sum())
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0


def _bootstrap_p(differences: np.ndarray) -> float:
    """Two-sided bootstrap p of a difference being zero: twice the smaller count of resampled differences on either
    side of 0, plus one, over the draws plus one (NaN draws left out), so that it is never below what B draws
    resolve: at least 2 / (B + 1)."""
    valid = differences[~np.isnan(differences)]
    if not len(valid):
        return float("nan")
    return min(1.0, 2 * (1 + min((valid <= 0).sum(), (valid >= 0).sum())) / (1 + len(valid)))


def _location_against_name(learnings: pl.DataFrame, rows: _Rows) -> None:
    """Per position graft: the share of location facts' learnings it recovers minus the name facts' share. The facts
    are resampled (within their relations), each carrying all its learnings: a fact learned, forgotten and learned
    again is one fact, not independent evidence. BH over the grafts (family grafting:relation_type); n_a, n_b facts."""
    s, found = rows.settings, []
    per_fact = learnings.group_by(["config", "fact_id", "relation", "relation_type"], maintain_order=True).agg(
        n_learned=pl.len(), n_recovered=pl.col("top1").sum()
    )
    for (config,), part in per_fact.group_by(["config"], maintain_order=True):
        groups = {kind: part.filter(pl.col("relation_type") == kind) for kind in ("location", "name")}
        if any(g.is_empty() for g in groups.values()):
            continue
        shares = {}
        for kind, g in groups.items():
            learned, recovered = g["n_learned"].to_numpy().astype(float), g["n_recovered"].to_numpy().astype(float)
            draws = stratified_resamples(g["relation"].to_numpy(), s.resamples, s.seed + 1)
            shares[kind] = (recovered.sum() / learned.sum(), recovered[draws].sum(1) / learned[draws].sum(1))
        differences = shares["location"][1] - shares["name"][1]
        low, high = percentile_interval(differences, s.level)
        found.append(
            dict(
                a="location",
                b="name",
                subject=config,
                estimate=float(shares["location"][0] - shares["name"][0]),
                lower=low,
                upper=high,
                p=_bootstrap_p(differences),
                n_a=groups["location"].height,
                n_b=groups["name"].height,
            )
        )
    for row, p_adj in zip(found, adjusted_p(np.array([r["p"] for r in found]))):
        rows.comparison("grafting:relation_type", "bootstrap", **row, p_adjusted=float(p_adj), finding=bool(p_adj < FINDING))


def _role_controls(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    """The role-causality test (trajectory.stats.role_tests) of every set with at least MIN_TEST_DRAWS controls:
    table role_tests (every such set, with why one is untestable) and, for the testable ones, comparisons rows
    of family role_controls:<revision> (Benjamini–Hochberg over the revision's testable sets)."""
    draws = interval_query(con, "causal_draws")
    if draws.is_empty():
        return
    keys = ["revision", "role", "relation"]
    sets = draws.filter(pl.col("draw").is_null())
    controls = draws.filter(pl.col("draw").is_not_null()).group_by(keys).agg(pl.col("effect").sort_by("draw").alias("draws"))
    tests = sets.join(controls, on=keys, how="inner").filter(pl.col("draws").list.len() >= MIN_TEST_DRAWS)
    for (revision,), part in tests.group_by("revision", maintain_order=True):
        width = int(part["draws"].list.len().min())  # every set of a revision has as many draws; the fewest if not
        matrix = np.array([d[:width] for d in part["draws"].to_list()], dtype=float)
        effect = part["effect"].to_numpy().astype(float)
        p_rank = permutation_p(effect, matrix)
        p_tail, t = tail_p(effect, matrix)
        normal = normal_p(matrix)
        pseudo = leave_one_out_p(matrix)
        calibration, below = calibration_p(pseudo), (pseudo <= 0.05).mean(1)
        reasons = [untestable_reason(r["n_heads"], r["n_ffns"], r["total_heads"], r["total_ffns"]) for r in part.iter_rows(named=True)]
        use_tail = (normal >= NORMAL) & ~np.isnan(p_tail)
        p = np.where(use_tail, p_tail, p_rank)
        p[[r is not None for r in reasons]] = np.nan
        adjusted = adjusted_p(p)
        for k, row in enumerate(part.iter_rows(named=True)):
            testable = reasons[k] is None
            method = ("normal tail" if use_tail[k] else "permutation") if testable else None
            finding = bool(testable and adjusted[k] < FINDING)
            rows.role_tests.append(
                {
                    **rows.key,
                    **{c: row[c] for c in ("revision", "role", "relation", "n_heads", "n_ffns", "total_heads", "total_ffns", "n_facts")},
                    "n_draws": width,
                    "effect": effect[k],
                    "control_mean": float(matrix[k].mean()),
                    "control_sd": float(matrix[k].std(ddof=1)),
                    "statistic": _finite(t[k]),
                    "p_tail": _finite(p_tail[k]),
                    "p_rank": float(p_rank[k]),
                    "normal_p": _finite(normal[k]),
                    "calibration_p": _finite(calibration[k]),
                    "pseudo_below_05": _finite(below[k]),
                    "test": method,
                    "p": _finite(p[k]),
                    "p_adjusted": _finite(adjusted[k]),
                    "finding": finding,
                    "reason": reasons[k],
                }
            )
            if testable:
                rows.comparison(
                    f"role_controls:{revision}",
                    method,
                    revision=revision,
                    subject=row["role"],
                    a=row["relation"],
                    b="random",
                    estimate=row["effect"],
                    statistic=_finite(t[k]),
                    p=float(p[k]),
                    p_adjusted=float(adjusted[k]),
                    n_a=row["n_facts"],
                    n_b=width,
                    finding=finding,
                )


def _finite(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _ocr(con: duckdb.DuckDBPyConnection, rows: _Rows) -> None:
    s = rows.settings
    probes = interval_query(con, "ocr_probes")
    for (revision, hop), part in probes.group_by(["revision", "hop"], maintain_order=True):
        ranks = part["implication_rank"].to_numpy().astype(float)
        draws = stratified_resamples(np.zeros(len(ranks)), s.resamples, s.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = percentile_interval(ranks[draws].mean(1), s.level)
        rows.interval("ocr_rank", float(ranks.mean()), low, high, len(ranks), s.resamples, revision=revision, scope=hop)
