"""``trajectory findings``: what a store shows, as Markdown written from its own numbers (so never stale).

One section per measure the store holds (accuracy and learning steps, roles and their stability, causal
checks, grafting, out-of-context generalisation, the logit lens), each figure with the count it rests on.
The SQL is in ``sql/findings/``; this module only words it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import polars as pl
import torch

from trajectory.dashboard.resampled_roles import resample_roles
from trajectory.paths import SQL_DIR
from trajectory.roles.scores import ROLES
from trajectory.store.analyses import choose
from trajectory.stats import (adjusted_p, emergence_order, learning_steps, percentile_interval, permutation_p, ratio_interval,
                              share_interval)
from trajectory.stats.roles import set_iou
from trajectory.store.db import reader, scope

RESAMPLES = 2000  # bootstrap resamples of the intervals of shares and differences
ROLE_RESAMPLES = 500  # of the role intervals (each re-classifies every revision's roles)


def findings_query(con, name: str) -> pl.DataFrame:
    """A query of sql/findings/ over the (scoped) store."""
    return pl.from_arrow(con.sql((SQL_DIR / "findings" / f"{name}.sql").read_text()).to_arrow_table())


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def findings_markdown(db: Path, analysis: str | None = None) -> str:
    """The findings of one analysis (see :func:`trajectory.store.analyses.choose`) as Markdown."""
    with reader(Path(db)) as con:
        chosen = choose(con, analysis).head(1)
        scope(con, chosen["analysis_id"].to_list())
        name = chosen["name"][0]
        n_revisions = con.sql("SELECT count(*) FROM revisions").fetchall()[0][0]
        parts = [f"# Findings: {name}\n",
                 f"Written by `trajectory findings` from the store ({n_revisions} revisions of analysis `{name}`). "
                 "Every figure says how many facts, components or learnings it rests on.\n"]
        theta = float(chosen["theta"][0])
        parts += _accuracy(con) + _roles(con, theta) + _causal(con) + _grafting(con) + _ocr(con) + _lens(con)
    return "\n".join(parts) + "\n"


def _interval(estimate, percent: bool = True) -> str:
    if estimate.n == 0 or np.isnan(estimate.value):
        return "n/a"
    scale, unit = (100, " %") if percent else (1, "")
    return f"{scale * estimate.value:.0f}{unit} [{scale * estimate.low:.0f}, {scale * estimate.high:.0f}]"


def _accuracy(con) -> list[str]:
    facts, learning = findings_query(con, "accuracy_facts"), findings_query(con, "learning_facts")
    lines = ["## When facts are learned\n",
             f"Top-1 accuracy of the answer's first token, with its 95 % interval (a bootstrap over facts within each "
             f"relation, {RESAMPLES} resamples, seed 0) and the number of facts:\n",
             "| revision | all facts | location facts | name facts |", "|---|---|---|---|"]
    for (revision,), rows in facts.group_by("revision", maintain_order=True):
        cells = []
        for kind in ("all", "location", "name"):
            part = rows if kind == "all" else rows.filter(pl.col("relation_type") == kind)
            estimate = share_interval(part["top1"].to_numpy(), part["relation"].to_numpy(), RESAMPLES)
            cells.append(f"{_interval(estimate)} of {estimate.n}")
        lines.append(f"| {revision} | " + " | ".join(cells) + " |")
    wide = learning.pivot("ordinal", index=["fact_id", "relation_type"], values="top1", sort_columns=True)
    steps = learning.select("ordinal", "step").unique().sort("ordinal")["step"].to_numpy()
    learned = learning_steps(wide.drop("fact_id", "relation_type").to_numpy().astype(bool), steps)
    kinds = wide["relation_type"].to_numpy()
    lines.append("\nA fact's *learning step* is the first revision from which its answer stays top-1; a fact never "
                 "learned has none (censored: later than the last revision).\n")
    for kind in ("location", "name"):
        mine = learned[kinds == kind]
        if len(mine):
            median = np.median(mine)
            said = "never (most are not learned)" if not np.isfinite(median) else f"{median:g}"
            lines.append(f"- {kind} facts: {np.isfinite(mine).sum()} of {len(mine)} learned; median learning step {said}.")
    location, name = learned[kinds == "location"], learned[kinds == "name"]
    if len(location) and len(name):
        order = emergence_order(location, name, RESAMPLES)
        verdict = ("a finding: the rank test rejects equal learning steps at the 5 % level" if order.p < 0.05
                   else "not a finding: the rank test does not tell the groups apart at the 5 % level")
        difference = ("undefined (a median fact is never learned)" if np.isnan(order.difference.value) else
                      f"{order.difference.value:g} steps [{order.difference.low:g}, {order.difference.high:g}]")
        lines.append(f"- Location against name facts: difference of median learning steps {difference}; "
                     f"Mann–Whitney U = {order.u:g}, p = {order.p:.2g} (n = {order.n_a} and {order.n_b} facts): {verdict}.")
    return lines + [""]


def _roles(con, theta: float) -> list[str]:
    roles, iou = findings_query(con, "roles"), findings_query(con, "iou")
    resampled = resample_roles(findings_query(con, "circuit_members"), findings_query(con, "fact_positions"), theta, ROLE_RESAMPLES)
    lines = ["## Roles\n", "| kind | role | at the final revision | first held (pooled over relations) |", "|---|---|---|---|"]
    strongest = None if resampled is None else resampled.roles[-1].min(dim=1).values  # [B + 1, C]: one role per component
    for row in roles.iter_rows(named=True):
        first = row["first_revision"] or "never"
        count = f"{row['n_final']} of {row['n_components']}"
        if strongest is not None:
            held = (strongest[:, resampled.kinds == row["kind"]] == ROLES.index(row["role"])).sum(1).double().numpy()
            low, high = percentile_interval(held[1:])
            count = f"{held[0]:.0f} [{low:.0f}, {high:.0f}] of {row['n_components']}"
        lines.append(f"| {row['kind']} | {row['role']} | {count} | {first} |")
    lines.append("\nAt the final revision each component counts once, under its strongest role over the relations"
                 + ("" if resampled is None else f"; in brackets the 95 % interval when the probe facts are resampled within "
                    f"relations ({ROLE_RESAMPLES} resamples) and the roles re-classified from the stored circuits") + ". IoU of each "
                 "role set ((relation, component) members, pooled over relations) with the final revision's, mean over revisions:\n")
    half = {}
    if resampled is not None:
        last = max(resampled.ordinals)
        for k, ordinal in enumerate(resampled.ordinals[:-1]):
            half.setdefault("first half" if ordinal * 2 < last else "second half", []).append(k)
    for (kind, role), rows in iou.group_by(["kind", "role"], maintain_order=True):
        parts = []
        for r in rows.iter_rows(named=True):
            interval = ""
            if resampled is not None:
                members = torch.from_numpy(resampled.kinds == kind)
                per_revision = torch.stack([set_iou(resampled.roles[k][:, :, members], resampled.roles[-1][:, :, members],
                                                    ROLES.index(role)) for k in half[r["part"]]])  # [K', B + 1]
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a resample where a set is empty everywhere: NaN
                    means = np.nanmean(per_revision.numpy(), axis=0)
                low, high = percentile_interval(means[1:])
                interval = f" [{low:.2f}, {high:.2f}]"
            parts.append(f"{r['part']} {r['mean_iou']:.2f}{interval} (n = {r['n_revisions']} revisions)")
        lines.append(f"- {role} {kind}s: {'; '.join(parts)}.")
    return lines + [""]


def _causal(con) -> list[str]:
    row = findings_query(con, "causal").row(0, named=True)
    if not row["n_tests"]:
        return []
    faithful = ("n/a (no fact where the model beats its fully ablated self by 1 logit)" if row["faithfulness_median"] is None
                else f"{row['faithfulness_median']:.2f}")
    causal = (f"{row['n_causal']} were causal ({row['causal_roles']})" if row["n_causal"] else "none was causal")
    lines = ["## Causal checks\n",
             f"- At the final revision a fact's circuit holds {row['mean_circuit_components']:.1f} heads and FFNs on average "
             f"(n = {row['n_facts']} facts); keeping only it keeps a median faithfulness of {faithful} "
             f"(n = {row['n_measured']} facts with R_clean − R_none ≥ 1 logit).",
             f"- Of {row['n_tests']} (revision, role set) tests, {row['n_size_matched']} had size-matched random controls, "
             f"and {causal} by the stage's rule (below every draw and 0.5 logit below their mean)."]
    draws = findings_query(con, "causal_draws")
    if draws.height:
        sets = draws.filter(pl.col("draw").is_null())
        controls = draws.filter(pl.col("draw").is_not_null()).group_by(["revision", "role", "relation"]).agg(
            pl.col("effect").alias("draws"))
        tests = sets.join(controls, on=["revision", "role", "relation"], how="inner")
        if tests.height:
            n_draws = min(len(d) for d in tests["draws"])
            effects = tests["effect"].to_numpy()
            matrix = np.array([d[:n_draws] for d in tests["draws"].to_list()], dtype=float)
            p = permutation_p(effects, matrix)
            revisions = tests["revision"].to_numpy()
            # The family of each correction: the role sets tested at one revision.
            significant = sum(int((adjusted_p(p[revisions == revision]) < 0.05).sum()) for revision in np.unique(revisions))
            lines.append(f"- As a test: each set's mean change of R on its relation's facts against its {n_draws} random draws, "
                         f"p = (1 + #draws at least as low) / (1 + {n_draws}), Benjamini–Hochberg within each revision: "
                         f"{significant} of {len(p)} sets have an adjusted p below 0.05 (smallest raw p {p.min():.2g}; with "
                         f"{n_draws} draws no p can fall below {1 / (1 + n_draws):.2g}, so this many draws cannot show a role "
                         f"causal: set `ablation.draws` to 99 or more).")
    return lines + [""]


def _grafting(con) -> list[str]:
    grafts = findings_query(con, "grafting_facts")
    if grafts.is_empty():
        return []
    pairs = findings_query(con, "grafting")["n_pairs"].max()
    learned = grafts.filter(pl.col("config") == grafts["config"][0])
    lines = ["## Where newly learned facts live (weight grafting)\n",
             f"Over {pairs} consecutive pairs, {int(learned['n_learned'].sum())} learnings of {int((learned['n_learned'] > 0).sum())} "
             "facts (a fact wrong at k and right at k+1; a fact forgotten and learned again counts again). The share of them "
             "each graft of k+1's weights into k answers right, with its 95 % interval (a bootstrap over facts within "
             "relations):\n"]
    for (config,), rows in grafts.group_by("config", maintain_order=True):
        estimate = ratio_interval(rows["n_recovered"].to_numpy(), rows["n_learned"].to_numpy(), rows["relation"].to_numpy(), RESAMPLES)
        lines.append(f"- {config}: {_interval(estimate)} of {estimate.n}.")
    return lines + [""]


def _ocr(con) -> list[str]:
    ocr = findings_query(con, "ocr")
    if ocr.is_empty():
        return []
    lines = ["## Out-of-context generalisation\n"]
    for row in ocr.iter_rows(named=True):
        when = f"from {row['ocr_revision']} (revision {row['ocr_ordinal']})" if row["ocr_revision"] else "never"
        heads = {kind: f"at {row[f'first_{kind}_head_revision']}" if row[f"first_{kind}_head_revision"] else "never"
                 for kind in ("entity", "relation")}
        lines.append(f"- {row['hop']} hop: implications beat chance {when}; entity heads appear {heads['entity']}, "
                     f"relation heads {heads['relation']}.")
    return lines + [""]


def _lens(con) -> list[str]:
    lens = findings_query(con, "lens")
    if lens.is_empty():
        return []
    lines = ["## Where the answer appears (logit lens, final revision)\n"]
    for row in lens.iter_rows(named=True):
        facts = "all" if row["relation_type"] == "*" else row["relation_type"]
        lines.append(f"- {facts} facts (n = {row['n_facts']}): top-1 at the last token {_share(row['share_top1_last'])}; "
                     f"top-1 at some subject token {_share(row['share_top1_subject'])}, top-10 {_share(row['share_top10_subject'])}.")
    return lines + [""]
