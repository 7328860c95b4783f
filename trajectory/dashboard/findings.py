"""``trajectory findings``: what a store shows, as Markdown written from its own numbers (so never stale).

One section per measure the store holds (accuracy and learning steps, roles and their stability, causal
checks, grafting, out-of-context generalisation, the logit lens), each figure with the count it rests on.
The SQL is in ``sql/findings/``; this module only words it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trajectory.paths import SQL_DIR
from trajectory.store.analyses import choose
from trajectory.store.db import reader, scope


def _frame(con, name: str) -> pl.DataFrame:
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
        parts += _accuracy(con) + _roles(con) + _causal(con) + _grafting(con) + _ocr(con) + _lens(con)
    return "\n".join(parts) + "\n"


def _accuracy(con) -> list[str]:
    accuracy, learning = _frame(con, "accuracy"), _frame(con, "learning")
    lines = ["## When facts are learned\n", "| revision | all facts | location facts | name facts |", "|---|---|---|---|"]
    for (revision,), rows in accuracy.group_by("revision", maintain_order=True):
        cell = {r["facts"]: f"{_share(r['top1'])} of {r['n_facts']}" for r in rows.iter_rows(named=True)}
        lines.append(f"| {revision} | {cell.get('all', '')} | {cell.get('location', '')} | {cell.get('name', '')} |")
    lines.append("\nTop-1 accuracy of the answer's first token. A fact's *learning step* is the first revision from "
                 "which its answer stays top-1:\n")
    for row in learning.iter_rows(named=True):
        median = ("" if row["median_step"] is None
                  else f"; median learning step {row['median_step']:g} (revision {row['median_ordinal']:g}) of the learned ones")
        lines.append(f"- {row['facts']} facts: {row['n_learned']} of {row['n_facts']} learned{median}.")
    return lines + [""]


def _roles(con) -> list[str]:
    roles, iou = _frame(con, "roles"), _frame(con, "iou")
    lines = ["## Roles\n", "| kind | role | at the final revision | first held (pooled over relations) |", "|---|---|---|---|"]
    for row in roles.iter_rows(named=True):
        first = row["first_revision"] or "never"
        lines.append(f"| {row['kind']} | {row['role']} | {row['n_final']} of {row['n_components']} | {first} |")
    lines.append("\nAt the final revision each component counts once, under its strongest role over the relations. "
                 "IoU of each role set with the final revision's (mean over revisions):\n")
    for (kind, role), rows in iou.group_by(["kind", "role"], maintain_order=True):
        halves = "; ".join(f"{r['part']} {r['mean_iou']:.2f} (n = {r['n_revisions']} revisions)" for r in rows.iter_rows(named=True))
        lines.append(f"- {role} {kind}s: {halves}.")
    return lines + [""]


def _causal(con) -> list[str]:
    row = _frame(con, "causal").row(0, named=True)
    if not row["n_tests"]:
        return []
    faithful = ("n/a (no fact where the model beats its fully ablated self by 1 logit)" if row["faithfulness_median"] is None
                else f"{row['faithfulness_median']:.2f}")
    causal = (f"{row['n_causal']} were causal ({row['causal_roles']})" if row["n_causal"] else "none was causal")
    return ["## Causal checks\n",
            f"- At the final revision a fact's circuit holds {row['mean_circuit_components']:.1f} heads and FFNs on average "
            f"(n = {row['n_facts']} facts); keeping only it keeps a median faithfulness of {faithful} "
            f"(n = {row['n_measured']} facts with R_clean − R_none ≥ 1 logit).",
            f"- Of {row['n_tests']} (revision, role set) tests, {row['n_size_matched']} had size-matched random controls, "
            f"and {causal}.", ""]


def _grafting(con) -> list[str]:
    grafts = _frame(con, "grafting")
    if grafts.is_empty():
        return []
    total = int(grafts["n_learned"].max() or 0)
    lines = ["## Where newly learned facts live (weight grafting)\n",
             f"Over {grafts['n_pairs'].max()} consecutive pairs, {total} learnings (a fact wrong at k and right at k+1; a fact "
             "forgotten and learned again counts again). The share of them each graft of k+1's weights into k answers right:\n"]
    for row in grafts.iter_rows(named=True):
        lines.append(f"- {row['config']}: {_share(row['learned_top1'])} of {row['n_learned']}.")
    return lines + [""]


def _ocr(con) -> list[str]:
    ocr = _frame(con, "ocr")
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
    lens = _frame(con, "lens")
    if lens.is_empty():
        return []
    lines = ["## Where the answer appears (logit lens, final revision)\n"]
    for row in lens.iter_rows(named=True):
        facts = "all" if row["relation_type"] == "*" else row["relation_type"]
        lines.append(f"- {facts} facts (n = {row['n_facts']}): top-1 at the last token {_share(row['share_top1_last'])}; "
                     f"top-1 at some subject token {_share(row['share_top1_subject'])}, top-10 {_share(row['share_top10_subject'])}.")
    return lines + [""]
