"""``trajectory findings``: what a store shows, as Markdown written from its own numbers (so never stale).

One section per measure the store holds (accuracy and learning steps, roles and their stability, causal
checks, grafting, out-of-context generalisation, the logit lens), each figure with the count it rests on.
The SQL is in ``sql/findings/``; this module only words it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trajectory.dashboard.style import p_text
from trajectory.errors import TrajectoryError
from trajectory.paths import SQL_DIR
from trajectory.roles.scores import ROLES
from trajectory.stats import wilson_interval
from trajectory.store.analyses import choose
from trajectory.store.db import reader, scope

if TYPE_CHECKING:
    import duckdb


def findings_query(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """A query of sql/findings/ over the (scoped) store."""
    return pl.from_arrow(con.sql((SQL_DIR / "findings" / f"{name}.sql").read_text()).to_arrow_table())


def findings_markdown(db: Path, analysis: str | None = None) -> str:
    """The findings of one analysis (see :func:`trajectory.store.analyses.choose`) as Markdown."""
    with reader(Path(db)) as con:
        chosen = choose(con, analysis).head(1)
        if chosen.is_empty():
            raise TrajectoryError(f"{db} holds no analysis with stored revisions; run trajectory ingest first")
        scope(con, chosen["analysis_id"].to_list())
        name = chosen["name"][0]
        n_revisions = con.sql("SELECT count(*) FROM revisions").fetchall()[0][0]
        parts = [
            f"# Findings: {name}\n",
            f"Written by `trajectory findings` from the store ({n_revisions} revisions of analysis `{name}`). "
            "Every figure says how many facts, components or learnings it rests on.\n",
        ]
        intervals, comparisons = findings_query(con, "stored_intervals"), findings_query(con, "stored_comparisons")
        if intervals.is_empty():
            parts.append("(No intervals are stored for this analysis: an ingest computes them; re-run `trajectory ingest`.)\n")
        parts += (
            _accuracy(intervals, comparisons)
            + _formation(con)
            + _roles(con, intervals)
            + _causal(con, intervals, comparisons)
            + _ground_truth(con, intervals)
            + _topk(con, intervals)
            + _grafting(con, intervals, comparisons)
            + _ocr(con, intervals)
            + _lens(con, intervals)
        )
    with reader(Path(db)) as con:  # unscoped: other seeds and other probe sets are other analyses
        parts += _paraphrases(con, chosen["analysis_id"][0]) + _seeds(con, chosen["analysis_id"][0])
    return "\n".join(parts) + "\n"


def _cell(row: dict, percent: bool = True, digits: int = 0) -> str:
    """An estimate with its interval: ``72 % [66, 78]``."""
    if row["estimate"] is None or np.isnan(row["estimate"]):
        return "n/a"
    scale, unit = (100, " %") if percent else (1, "")

    def number(x: float) -> str:  # rounded first, so that a small negative reads 0, not -0
        return f"{round(scale * x, digits) + 0.0:.{digits}f}"

    text = f"{number(row['estimate'])}{unit}"
    if row["lower"] is None or row["upper"] is None or np.isnan(row["lower"]) or np.isnan(row["upper"]):
        return text + " [no interval]"
    return text + f" [{number(row['lower'])}, {number(row['upper'])}]"


def _band(row: dict, digits: int = 0) -> str:
    """A set statistic with its resampling band, † where the estimate lies outside it (the band is biased)."""
    outside = (
        row["estimate"] is not None
        and row["lower"] is not None
        and row["upper"] is not None
        and not np.isnan(row["estimate"])
        and not row["lower"] - 1e-9 <= row["estimate"] <= row["upper"] + 1e-9
    )
    return _cell(row, percent=False, digits=digits) + (" †" if outside else "")


def _where(frame: pl.DataFrame, **equal: object) -> list[dict]:
    for column, value in equal.items():
        frame = frame.filter(pl.col(column).is_null() if value is None else pl.col(column) == value)
    return list(frame.iter_rows(named=True))


def _verdict(row: dict, adjusted: bool = False) -> str:
    """The test's p (or adjusted p) and whether it is a finding; a resampling p at its floor is written "p ≤ floor":
    1 / (1 + D) for a permutation against D draws, 2 / (1 + B) for a two-sided bootstrap or within-relation permutation of
    B draws (an exact test's p is what it is)."""
    value = row["p_adjusted"] if adjusted else row["p"]
    draws = row.get("bootstrap_resamples")
    floor = (
        1 / (1 + row["n_b"])
        if row["test"] == "permutation" and row["n_b"]
        else 2 / (1 + draws)
        if row["test"] in ("bootstrap", "within-relation permutation") and draws
        else None
    )
    if floor is not None and value <= floor * (1 + 1e-9):
        p = f"p ≤ {floor:.2g} (the smallest {row['test']} p with these draws)"
    else:
        p = p_text(value)
    p = ("adjusted " if adjusted else "") + p
    return f"{p}: a finding" if row["finding"] else f"{p}: not a finding (the test does not reject at the 5 % level)"


GROUP_NAMES = {"high": "high-frequency", "low": "low-frequency"}


def _accuracy(intervals: pl.DataFrame, comparisons: pl.DataFrame) -> list[str]:
    top1 = intervals.filter(pl.col("measure") == "top1")
    if top1.is_empty():
        return []
    ordinals = sorted(set(top1["ordinal"].to_list()))
    picked = [ordinals[0], ordinals[len(ordinals) // 2], ordinals[-1]]
    level = top1["level"][0]
    lines = [
        "## When facts are learned\n",
        f"Top-1 accuracy of the answer's first token, with its {100 * level:.0f} % Wilson score interval on the facts (it "
        "keeps its coverage near 0 and 1, where a bootstrap's collapses) and the number of facts:\n",
        "| revision | all facts | location facts | name facts |",
        "|---|---|---|---|",
    ]
    for ordinal in picked:
        rows = {r["scope"]: r for r in _where(top1, ordinal=ordinal)}
        revision = next(iter(rows.values()))["revision"]
        cells = [f"{_cell(rows[k])} of {rows[k]['n']}" if k in rows else "" for k in ("*", "location", "name")]
        lines.append(f"| {revision} | " + " | ".join(cells) + " |")
    learned = {r["scope"]: r for r in intervals.filter(pl.col("measure") == "learned").iter_rows(named=True)}
    if learned:
        lines.append("\nLearned by the last revision (the answer stays top-1 from some revision on):\n")
    for kind in ("location", "name"):
        if kind in learned:
            row = learned[kind]
            lines.append(f"- {kind} facts: {round(row['estimate'] * row['n'])} of {row['n']} learned ({_cell(row)}).")
    order = _where(comparisons, family="emergence")
    if order:
        lines.append(
            f"\nA fact's *learning step* is the first of the analysis's {len(ordinals)} stored revisions from which its "
            "answer stays top-1 (a fact never learned has none and ranks last; one first stable at a revision whose "
            "step is unknown ranks after every known step, and a median that falls on it is undefined). Learning "
            "order as tests whose unit follows the claim: relation types with the relation as the unit (the "
            "difference of the facts' median learning steps; the test permutes the relation labels over every "
            "assignment, on the relations' median steps; the interval resamples relations), "
            "frequency buckets within relations (the mean of the relations' differences of median steps, weighted by "
            "n_a·n_b / (n_a + n_b); the labels permuted within each relation, so a relation's type cannot make the "
            "difference; the interval resamples facts within relation and bucket); Benjamini–Hochberg over the two:\n"
        )
    for row in order:
        difference = (
            "undefined (a median fact is never learned)"
            if row["estimate"] is None or np.isnan(row["estimate"])
            else f"{row['estimate']:.4g} steps [{row['lower']:.4g}, {row['upper']:.4g}]"
        )
        a, b = (GROUP_NAMES.get(row[k], row[k]) for k in ("a", "b"))
        lines.append(
            f"- {a} against {b} facts (n = {row['n_a']} and {row['n_b']} {row['subject'] or 'facts'}): difference of "
            f"median learning steps {difference}"
            + (" within relations" if row["subject"] == "facts within relations" else "")
            + f"; {row['test']}, {_verdict(row, adjusted=True)}."
        )
    return lines + [""]


# The study's OLMo-7B figures (METHOD.md §4) that a reference is held against.
STUDY_ACTIVE_HEADS = (113, 423, 1024)


def _formation(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Do recall circuits form: sparse, growing, with heads the model needs (view circuit_formation)."""
    rows = findings_query(con, "formation")
    if rows.is_empty():
        return []
    lines = [
        "## Do recall circuits form?\n",
        "Per revision: top-1; the mean share of the heads in a fact's circuit as the roles use it (its fact score "
        "above θ); the active heads (active for some relation); the heads that cost at least 1 logit of R on their "
        "relation's facts when ablated alone (component-effects stage); the mean share of the components that the "
        "threshold-free top-k curve needs to reach 80 % faithfulness (ablation stage).\n",
        "| revision | why | top-1 | heads in a fact's circuit | active heads | heads costing ≥ 1 logit | top-k share for 80 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows.iter_rows(named=True):
        why = ", ".join(
            name
            for name, flag in (
                ("first", row["is_first"]),
                ("top-1 reaches 20 %", row["is_learned"]),
                ("middle", row["is_middle"]),
                ("last", row["is_last"]),
            )
            if flag
        )
        costly = "not measured" if row["costly_heads"] is None else f"{row['costly_heads']} of {row['n_heads']}"
        topk = "not measured" if row["topk_share80"] is None else f"{100 * row['topk_share80']:.0f} % (n = {row['n_topk_facts']} facts)"
        lines.append(
            f"| {row['revision']} | {why} | {100 * row['top1']:.0f} % of {row['n_facts']} | {100 * row['fact_head_share']:.0f} % of "
            f"{row['n_heads']} | {row['active_heads']} of {row['n_heads']} | {costly} | {topk} |"
        )
    learned = rows.filter(pl.col("is_learned"))
    last = rows.row(-1, named=True)
    low, high, total = STUDY_ACTIVE_HEADS
    if not learned.is_empty() and learned["active_heads"][0]:
        ratio = last["active_heads"] / learned["active_heads"][0]
        verdict = "grow as in the study" if ratio >= 1.5 else "do not grow as in the study (less than 1.5 times)"
        lines.append(
            f"\nActive heads {verdict}: {learned['active_heads'][0]} of {last['n_heads']} where top-1 first reaches 20 %, "
            f"{last['active_heads']} at the last revision (× {ratio:.2f}; OLMo-7B: {low} to {high} of {total}, × "
            f"{high / low:.1f}). A fact's circuit holds {100 * last['fact_head_share']:.0f} % of the heads at the last revision "
            + ("(sparse: at most 40 %)." if last["fact_head_share"] <= 0.4 else "(not sparse: more than 40 %).")
        )
    return lines + [""]


def _roles(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame) -> list[str]:
    roles = findings_query(con, "roles")
    counts = intervals.filter(pl.col("measure") == "role_count", pl.col("relation") == "*")
    final = max(counts["ordinal"].to_list()) if counts.height else None
    lines = ["## Roles\n", "| kind | role | at the final revision | first held (pooled over relations) |", "|---|---|---|---|"]
    for row in roles.iter_rows(named=True):
        stored = _where(counts, ordinal=final, scope=row["kind"], category=row["role"]) if final is not None else []
        held = f"{_band(stored[0])} of {stored[0]['n']}" if stored else f"{row['n_final']} of {row['n_components']}"
        lines.append(f"| {row['kind']} | {row['role']} | {held} | {row['first_revision'] or 'never'} |")
    lines.append(
        "\nAt the final revision each component counts once, under its strongest role over the relations"
        + (
            "; in brackets the 95 % resampling band when the probe facts are resampled within relations and the roles "
            "re-classified from the stored circuits. A role set is a union over facts and a resample holds about 63 % of "
            "the distinct facts, so the band is biased (mostly towards smaller sets) and is no confidence interval; "
            "† marks an estimate outside its own band"
            if counts.height
            else ""
        )
        + "."
    )
    iou = intervals.filter(pl.col("measure") == "role_iou", pl.col("scope") == "head", pl.col("relation") == "*")
    if iou.height:
        ordinals = sorted(set(iou["ordinal"].to_list()))
        picked = [ordinals[len(ordinals) // 4], ordinals[len(ordinals) // 2], ordinals[(3 * len(ordinals)) // 4]]
        names = {r["ordinal"]: r["revision"] for r in iou.iter_rows(named=True)}
        lines += [
            "\nIoU of each head role set ((relation, head) members, pooled over relations) with the final revision's, "
            "with its 95 % resampling band (biased as above; † outside it) and the members it rests on:\n",
            "| role | " + " | ".join(names[o] for o in picked) + " |",
            "|---|" + "---|" * len(picked),
        ]
        for role in ROLES[:-1]:
            cells = []
            for ordinal in picked:
                stored = _where(iou, ordinal=ordinal, category=role)
                cells.append(f"{_band(stored[0], digits=2)} (n = {stored[0]['n']})" if stored else "")
            lines.append(f"| {role} | " + " | ".join(cells) + " |")
    return lines + [""]


def _final(intervals: pl.DataFrame, measure: str, scope: str = "*", category: str = "*") -> dict | None:
    """The stored interval of a per-group measure at the analysis's last revision, or None."""
    rows = intervals.filter(pl.col("measure") == measure, pl.col("scope") == scope, pl.col("category") == category)
    return rows.sort("ordinal").row(-1, named=True) if rows.height else None


def _with_interval(value: float | None, stored: dict | None, percent: bool = False, digits: int = 2) -> str:
    if stored is not None:
        return _cell(stored, percent=percent, digits=digits)
    return "n/a" if value is None else (f"{100 * value:.0f} %" if percent else f"{value:.{digits}f}")


def _causal(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame, comparisons: pl.DataFrame) -> list[str]:
    row = findings_query(con, "causal").row(0, named=True)
    if row["n_facts"] is None and not row["n_sets"]:
        return []
    faithful = (
        "n/a (no fact where the model beats its fully ablated self by 1 logit)"
        if row["faithfulness_median"] is None
        else _with_interval(row["faithfulness_median"], _final(intervals, "faithfulness_median"))
    )
    size = _with_interval(row["mean_circuit_components"], _final(intervals, "mean_circuit_components"), digits=1)
    lines = [
        "## Causal checks\n",
        f"- At the final revision a fact's circuit holds {size} heads and FFNs on average "
        f"(n = {row['n_facts']} facts); keeping only it keeps a median faithfulness of {faithful} "
        f"(n = {row['n_measured']} facts with R_clean − R_none ≥ 1 logit).",
    ]
    if row["n_sets"]:
        facts = f"{row['min_facts']}" if row["min_facts"] == row["max_facts"] else f"{row['min_facts']}–{row['max_facts']}"
        untestable = row["n_sets"] - row["n_testable"]
        why = f" ({untestable} untestable, most often because {row['common_reason']})" if untestable else ""
        which = f": {row['causal_sets']}" if row["n_causal"] else ""
        lines.append(
            f"- Role causality: each role set, defined on half of each relation's facts, ablated on n = {facts} held-out "
            f"facts of its relation (all held-out facts for general and entity) against {row['n_draws']} random sets of as many "
            f"heads and FFNs, at {row['n_test_revisions']} revisions; p from the controls' normal tail (Student t, "
            f"{row['n_tail']} of {row['n_testable']} tests) or, where they fail Shapiro–Wilk, their ranks; Benjamini–Hochberg "
            f"within each revision. {row['n_findings']} of {row['n_testable']} testable (revision, set) tests are findings{why}; "
            f"{row['n_causal']} sets are causal (a finding that beats its control on no other relation){which}. Smallest p "
            f"{_p_text(row['smallest_p'])}. " + _calibration(row)
        )
    return lines + [""]


def _calibration(row: dict) -> str:
    """The pseudo role sets of the sets the normal tail tested: each control against the others, null by construction."""
    if not row["n_pseudo"]:
        return "No set was tested by the normal tail, so its calibration was not needed."
    share = row["n_pseudo_below_05"] / row["n_pseudo"]
    low, high = wilson_interval(row["n_pseudo_below_05"], row["n_pseudo"])
    return (
        f"Calibration of the tail: each control of those {row['n_tail']} sets tested against the others as if it were the set "
        f"(n = {row['n_pseudo']} pseudo role sets, null by construction) gives p ≤ 0.05 for {100 * share:.1f} % "
        f"[{100 * low:.1f}, {100 * high:.1f}] (Wilson; 5 % if calibrated; the pseudo sets of one set share its controls, so "
        f"the interval is narrower than it should be)."
    )


def _p_text(p: float | None) -> str:
    return "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.2g}")


def _at(intervals: pl.DataFrame, measure: str, revision: str) -> dict | None:
    rows = _where(intervals, measure=measure, revision=revision, scope="*", category="*")
    return rows[0] if rows else None


def _role_agreement(intervals: pl.DataFrame, revision: str, kind: str, role: str) -> dict | None:
    rows = _where(intervals, measure="effect_role_agreement", revision=revision, scope=kind, category=role, relation="*")
    return rows[0] if rows else None


def _ground_truth(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame) -> list[str]:
    """IFR circuits and roles against single-component effects, at the first, middle and last revision with effects."""
    rows = findings_query(con, "effects")
    if rows.is_empty():
        return []
    chosen = sorted({0, rows.height // 2, rows.height - 1})
    estimated = bool(rows["estimated"].any())
    lines = [
        "## Ground truth: do IFR circuits and roles find the components the model needs?\n",
        "Every head and FFN replaced alone by its mean output on every fact"
        + (" (estimated by attribution patching where marked)" if estimated else "")
        + "; a component is in a fact's causal circuit when that costs at least κ of the fact's R_clean − R_none "
        "(facts with a gap ≥ 1 logit). Means over those facts with 95 % intervals (a bootstrap over facts within "
        "relations); the IFR circuit is the one rooted at the token that predicts the answer.\n",
        "| revision | facts | IFR / causal circuit size | precision | recall | IoU | Spearman ρ (IFR importance, cost) "
        "| attribution patching ρ with ablation | heads / FFNs costing ≥ 1 logit | same role, heads / FFNs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for index in chosen:
        row = rows.row(index, named=True)
        cells = [
            _with_interval(row[name], _at(intervals, measure, row["revision"]), percent=percent, digits=0 if percent else 2)
            for name, measure, percent in (
                ("precision", "effect_precision", True),
                ("recall", "effect_recall", True),
                ("iou", "effect_iou", True),
                ("spearman", "effect_spearman", False),
            )
        ]
        atp = "n/a" if row["atp_spearman"] is None else f"{row['atp_spearman']:.2f} (top-10 overlap {row['atp_top10_overlap']:.0%})"
        same = " / ".join(
            "n/a"
            if row[f"{k}_role_agreement"] is None
            else f"{_with_interval(row[f'{k}_role_agreement'], _role_agreement(intervals, row['revision'], k, 'all'), True, 0)} "
            f"of {row[f'{k}_pairs']}"
            for k in ("head", "ffn")
        )
        lines.append(
            f"| {row['revision']}{' (estimated)' if row['estimated'] else ''} | {row['n_facts']} | "
            f"{row['mean_ifr_components']:.1f} / {row['mean_causal_components']:.1f} | {' | '.join(cells)} | {atp} | "
            f"{row['n_costly_heads']} / {row['n_costly_ffns']} | {same} |"
        )
    last = rows.row(-1, named=True)
    sets = [s for s in last["role_sets"] or [] if s["n_ifr"] or s["n_causal"]]
    if sets:
        described = "; ".join(
            f"{s['kind']} {s['role']}: {s['n_ifr']} by IFR, {s['n_causal']} causal, {s['n_shared']} both"
            + ("" if s["iou"] is None else f" (IoU {_with_interval(s['iou'], _role_agreement(intervals, last['revision'], s['kind'], s['role']))})")
            for s in sets
        )
        lines.append(
            f"\nRole sets at {last['revision']} (members are (relation, component) pairs; a causal circuit has one root, "
            f"so no component is a causal entity; intervals of role-set statistics are resampling bands, biased as "
            f"the role intervals are): {described}."
        )
    return lines + [""]


def _topk(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame) -> list[str]:
    summary = findings_query(con, "topk")
    if summary.is_empty() or summary["n_facts"][0] == 0:
        return []
    row = summary.row(0, named=True)
    area, k80 = _final(intervals, "topk_area"), _final(intervals, "topk_k80")
    return [
        "## Circuits without a threshold\n",
        f"Every head and FFN ranked by its IFR importance (no τ), the top k kept and the rest ablated: at the final revision "
        f"a fact needs {_with_interval(row['mean_k80'], k80, digits=1)} of the {row['n_components']} components on average to reach "
        f"80 % of its clean reward, and the area under its curve is {_with_interval(row['mean_area'], area)} (n = {row['n_facts']} "
        f"facts; 1 would be one component carrying everything). The analysis's own circuits hold {row['circuit_size']:.1f} "
        f"components at a median faithfulness of {row['circuit_faithfulness']:.2f}.",
        "",
    ]


def _paraphrases(con: duckdb.DuckDBPyConnection, analysis_id: str) -> list[str]:
    rows = pl.from_arrow(con.sql((SQL_DIR / "findings" / "paraphrases.sql").read_text(), params=[analysis_id]).to_arrow_table())
    if rows.is_empty():
        return []
    lines = [
        "## Under other phrasings\n",
        f"From `{rows['name'][0]}` (the same facts under several templates; with `--facts paraphrases`, template 1 is the "
        "probe's, 2 a paraphrase the reference's corpus states, 3 one it never states), at its final revision:\n",
    ]
    for row in rows.filter(pl.col("part") == "template").iter_rows(named=True):
        interval = {"estimate": row["value"], "lower": row["lower"], "upper": row["upper"]}
        lines.append(f"- template {row['what']}: top-1 {_cell(interval)} of {row['n']} facts.")
    for row in rows.filter(pl.col("part") == "known").iter_rows(named=True):
        lines.append(f"- known {row['what']}: {int(row['value'])} of {row['n']} facts.")
    for row in rows.filter(pl.col("part") == "iou").iter_rows(named=True):
        lines.append(f"- circuit IoU across a fact's templates ({row['what']}): {row['value']:.2f} on average (n = {row['n']} facts).")
    for row in rows.filter(pl.col("part") == "roles").iter_rows(named=True):
        lines.append(f"- {row['what']} memberships holding under every template: {int(row['value'])} of {row['n']}.")
    return lines + [""]


def _seeds(con: duckdb.DuckDBPyConnection, analysis_id: str) -> list[str]:
    rows = pl.from_arrow(con.sql((SQL_DIR / "findings" / "seeds.sql").read_text(), params=[analysis_id]).to_arrow_table())
    if rows.is_empty() or rows["n_seeds"][0] < 2:
        return []
    lines = [
        "## In other seeds\n",
        f"The same reference trained from {rows['n_seeds'][0]} seeds (`trajectory ingest --seed N`): each test in each seed "
        "(estimates in seed order), and whether it is a finding in every one.\n",
    ]
    for row in rows.iter_rows(named=True):
        what = f"{row['family']} {row['subject'] + ': ' if row['subject'] else ''}{row['a']} against {row['b']}"
        estimates = ", ".join("n/a" if e is None else f"{e:g}" for e in row["estimates"])
        lines.append(
            f"- {what}: estimates {estimates}; a finding in {row['n_seeds_finding']} of {row['n_seeds']} seeds"
            + (" (holds in every seed)." if row["in_every_seed"] else ".")
        )
    return lines + [""]


def _pooled_grafts(intervals: pl.DataFrame) -> pl.DataFrame:
    """Each graft's share of the learnings it recovers, pooled over every pair, relation type and band."""
    return intervals.filter(
        pl.col("measure") == "graft_recovery", pl.col("revision").is_null(), pl.col("scope") == "*", pl.col("to_category") == "all"
    )


def _grafting(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame, comparisons: pl.DataFrame) -> list[str]:
    grafts = _pooled_grafts(intervals)
    if grafts.is_empty():
        return []
    pairs = findings_query(con, "grafting")["n_pairs"].max()
    lines = [
        "## Where newly learned facts live (weight grafting)\n",
        f"Over {pairs} consecutive pairs, {grafts['n'][0]} learnings (a fact wrong at k and right at k+1; a fact forgotten "
        "and learned again counts again). The share of them each graft of k+1's weights into k answers right, with its "
        "interval (a bootstrap over facts within relations):\n",
    ]
    for row in grafts.iter_rows(named=True):
        lines.append(f"- {row['category']}: {_cell(row)} of {row['n']}.")
    for row in _where(comparisons, family="grafting"):
        lines.append(
            f"- {row['a']} against {row['b']}: difference {_cell(row)} on the same {row['n_a']} learnings "
            f"({'McNemar' if row['test'] == 'mcnemar' else row['test']}); {_verdict(row)}."
        )
    by_type = _where(comparisons, family="grafting:relation_type")
    if by_type:
        lines.append(
            "\nLocation facts' learnings against name facts', per graft (share recovered, location minus name, with its "
            "interval; the facts resampled within relations, each with all its learnings; a bootstrap p, "
            "Benjamini–Hochberg over the grafts):\n"
        )
    for row in by_type:
        lines.append(
            f"- {row['subject']}: {_cell(row)} (n = {row['n_a']} and {row['n_b']} facts, each with its learnings); {_verdict(row, adjusted=True)}."
        )
    return lines + [""]


def _ocr(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame) -> list[str]:
    ocr = findings_query(con, "ocr")
    if ocr.is_empty():
        return []
    ranks = intervals.filter(pl.col("measure") == "ocr_rank")
    final = max(ranks["ordinal"].to_list()) if ranks.height else None
    lines = ["## Out-of-context generalisation\n"]
    for row in ocr.iter_rows(named=True):
        when = f"from {row['ocr_revision']} (revision {row['ocr_ordinal']})" if row["ocr_revision"] else "never"
        heads = {
            kind: f"at {row[f'first_{kind}_head_revision']}" if row[f"first_{kind}_head_revision"] else "never" for kind in ("entity", "relation")
        }
        stored = _where(ranks, ordinal=final, scope=row["hop"]) if final is not None else []
        rank = (
            f" At the final revision the mean implication rank is {_cell(stored[0], percent=False, digits=2)} (n = {stored[0]['n']} probes)."
            if stored
            else ""
        )
        lines.append(
            f"- {row['hop']} hop: implications beat chance {when}; entity heads appear {heads['entity']}, relation heads {heads['relation']}.{rank}"
        )
    return lines + [""]


def _lens(con: duckdb.DuckDBPyConnection, intervals: pl.DataFrame) -> list[str]:
    lens = findings_query(con, "lens")
    if lens.is_empty():
        return []
    lines = ["## Where the answer appears (logit lens, final revision)\n"]
    for row in lens.iter_rows(named=True):
        whole = row["relation_type"] == "*"
        facts = "all" if whole else row["relation_type"]
        scope, category = ("*", "*") if whole else ("relation type", row["relation_type"])
        share = {
            m: _with_interval(row[m], _final(intervals, m, scope, category), percent=True, digits=0)
            for m in ("share_top1_last", "share_top1_subject", "share_top10_subject")
        }
        lines.append(
            f"- {facts} facts (n = {row['n_facts']}): top-1 at the last token {share['share_top1_last']}; "
            f"top-1 at some subject token {share['share_top1_subject']}, top-10 {share['share_top10_subject']}."
        )
    return lines + [""]


def index_headlines(con: duckdb.DuckDBPyConnection, analysis_id: str) -> dict[str, list[str]]:
    """Two or three headline results per page of one analysis, from the (scoped) store's own numbers, each with
    its interval and denominator: page name -> lines (Markdown-ish, for the index)."""
    intervals = findings_query(con, "stored_intervals").filter(pl.col("analysis_id") == analysis_id)
    comparisons = findings_query(con, "stored_comparisons").filter(pl.col("analysis_id") == analysis_id)
    lines: dict[str, list[str]] = {}
    if intervals.is_empty():
        return {"training": ["no intervals stored yet: re-run `trajectory ingest`"]}
    last = intervals["ordinal"].max()
    final = intervals.filter(pl.col("ordinal") == last)
    top1 = _where(final, measure="top1", scope="*")
    if top1:
        lines.setdefault("training", []).append(f"top-1 at {top1[0]['revision']}: {_cell(top1[0])} of {top1[0]['n']} facts")
    for row in _where(comparisons, family="emergence", a="location"):
        lines.setdefault("training", []).append(
            f"median learning step of location minus name facts: {row['estimate']:g} steps [{row['lower']:g}, {row['upper']:g}] "
            f"(n = {row['n_a']} and {row['n_b']} {row['subject']}); {_verdict(row, adjusted=True)}"
            if row["estimate"] is not None and not np.isnan(row["estimate"])
            else f"location against name facts (n = {row['n_a']} and {row['n_b']} {row['subject']}): {_verdict(row, adjusted=True)}"
        )
    edges = con.execute(
        "SELECT count(*) / count(DISTINCT fact_id) FROM routes r JOIN revisions v USING (analysis_id, revision) "
        "WHERE r.analysis_id = ? AND v.ordinal = ?",
        [analysis_id, last],
    ).fetchall()[0][0]
    if edges:
        lines["routes"] = [f"a fact's route graph at the final revision: {edges:.0f} edges on average"]
        middle = intervals.filter(pl.col("measure") == "mean_edge_iou_final", pl.col("scope") == "*").sort("ordinal")
        if middle.height:
            row = middle.row(middle.height // 2, named=True)
            lines["routes"].append(
                f"edge IoU with the final graph at {row['revision']}: {_cell(row, percent=False, digits=2)} (mean over n = {row['n']} facts)"
            )
    faithful = _where(final, measure="faithfulness_median", scope="*")
    if faithful:
        lines.setdefault("causal", []).append(
            f"faithfulness of the circuits at the final revision: median {_cell(faithful[0], percent=False, digits=2)} (n = {faithful[0]['n']} facts)"
        )
    tests = comparisons.filter(pl.col("family").str.starts_with("role_controls"))
    if tests.height:
        lines.setdefault("causal", []).append(
            f"role sets shown causal on held-out facts: {int(tests['finding'].sum())} of {tests.height} testable tests "
            f"against {int(tests['n_b'].min())} random sets each"
        )
    for row in _where(final, measure="effect_iou", scope="*", category="*"):
        lines.setdefault("causal", []).append(
            f"IFR circuits against causal ground truth at the final revision: IoU "
            f"{_cell(row, percent=False, digits=2)} (mean over n = {row['n']} facts)"
        )
    pooled = _pooled_grafts(intervals)
    for config in ("LT", "FE"):
        row = _where(pooled, category=config)
        if row:
            lines.setdefault("grafting", []).append(f"{config} graft recovers {_cell(row[0])} of n = {row[0]['n']} newly learned facts")
    for row in _where(comparisons, family="grafting"):
        lines.setdefault("grafting", []).append(f"{row['a']} against {row['b']}: {_cell(row)}; {_verdict(row)}")
    for row in _where(final, measure="ocr_rank"):
        lines.setdefault("extractive", []).append(
            f"{row['scope']} hop: mean implication rank after finetuning {_cell(row, percent=False, digits=2)} (n = {row['n']} probes)"
        )
    return lines
