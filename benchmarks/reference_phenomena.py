"""Does the reference show knowledge circuits forming? The targets of issue #35, measured (not a test).

From a store of the reference pipeline (the README's first command's), or from designs built here:

- top-1 at the first checkpoint, the middle one and ``main`` (target: <= 5 %, partial, >= 90 %);
- the share of the heads in a fact's circuit as the roles use it (F_x: fact score > theta), mean over the facts
  at ``main`` (target <= 40 %), and the threshold-free top-k curve's share of components reaching 80 %
  faithfulness (topk_summary.share80, mean over the facts measured; target <= 30 %);
- active heads at ``main`` over those at the first checkpoint where top-1 >= 20 % (target >= 1.5);
- heads that each cost >= 1 logit on their relation's facts at ``main`` (component_effects: mean ΔR over the
  relation's facts <= -1 for some relation; target >= 10), and relations where a role set is causal
  (role_causality: its held-out test a finding after Benjamini-Hochberg; target: half).

    python benchmarks/reference_phenomena.py --db STORE            # the default reference's store -> results file
    python benchmarks/reference_phenomena.py --design NAME [...]   # build a design, ingest a few revisions, measure
    python benchmarks/reference_phenomena.py --list                # the designs
    python benchmarks/reference_phenomena.py --table               # the designs measured, as docs/method.md's table

Designs are written to benchmarks/results/reference_designs.json (one entry per design, replaced when rerun);
a store's figures to benchmarks/results/reference_phenomena.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def figures(db: Path, analysis: str | None = None) -> dict:
    """The targets' figures from a store (its first analysis by creation: the first command's; or ``analysis``): the
    revisions `trajectory findings` picks (sql/findings/formation.sql), the view circuit_formation at every revision,
    and role_causality at the last."""
    from trajectory.dashboard.findings import findings_query
    from trajectory.store.db import reader, scope

    with reader(db) as con:
        analysis = analysis or con.sql("SELECT analysis_id FROM analyses ORDER BY created_at LIMIT 1").fetchall()[0][0]
        scope(con, [analysis])
        picked = findings_query(con, "formation")
        shares = con.sql("SELECT revision, fact_head_share FROM circuit_formation ORDER BY ordinal").fetchall()
        n_relations = con.sql("SELECT count(DISTINCT relation) FROM analysis_facts").fetchall()[0][0]
        main = picked.row(-1, named=True)
        n_causal, draws = con.execute(
            """SELECT count(DISTINCT relation) FILTER (WHERE causal), max(n_draws) FROM role_causality
                                         WHERE revision = ? AND relation <> '*'""",
            [main["revision"]],
        ).fetchall()[0]
    first = picked.filter(picked["is_first"]).row(0, named=True)
    middle = picked.filter(picked["is_middle"]).row(0, named=True)
    learned = picked.filter(picked["is_learned"]).rows(named=True)
    learned = learned[0] if learned else None
    ratio = None if learned is None or not learned["active_heads"] else round(main["active_heads"] / learned["active_heads"], 2)
    result = {
        "analysis": analysis,
        "revisions": len(shares),
        "heads": main["n_heads"],
        "top1": {
            "first": round(first["top1"], 3),
            "middle": round(middle["top1"], 3),
            "middle_revision": middle["revision"],
            "main": round(main["top1"], 3),
        },
        "fact_circuit_head_share_main": round(main["fact_head_share"], 3),
        "topk_share80_main": None if main["topk_share80"] is None else round(main["topk_share80"], 3),
        "topk_facts_main": main["n_topk_facts"],
        "active_heads": {
            "first_top1_20": learned and learned["revision"],
            "there": learned and learned["active_heads"],
            "main": main["active_heads"],
            "ratio": ratio,
        },
        "heads_costing_1_logit_main": main["costly_heads"],
        "relations_with_causal_role_main": None if draws is None else n_causal,
        "role_draws_main": draws,
        "relations": n_relations,
        "fact_circuit_head_share": {name: round(share, 3) for name, share in shares},
    }
    result["targets"] = {
        "top1 first <= 5 %": result["top1"]["first"] <= 0.05,
        "top1 main >= 90 %": result["top1"]["main"] >= 0.9,
        "fact circuit <= 40 % of heads": result["fact_circuit_head_share_main"] <= 0.4,
        "top-k 80 % with <= 30 % of components": None if main["topk_share80"] is None else main["topk_share80"] <= 0.3,
        "active heads x1.5": None if ratio is None else ratio >= 1.5,
        ">= 10 heads cost >= 1 logit": None if main["costly_heads"] is None else main["costly_heads"] >= 10,
        "half the relations' role sets causal (held-out test)": None if draws is None else n_causal >= n_relations / 2,
    }
    return result


def measure_design(name: str, revisions: str | None, keep: Path | None, test_draws: int = 199) -> dict:
    from trajectory.config import load_pipeline
    from trajectory.pipeline.orchestrator import ingest
    from trajectory.suite.build import build_suite, built_digest
    from trajectory.suite.recipe import DESIGNS, PRESETS

    design = DESIGNS[name]
    PRESETS[name] = design
    folder = keep or Path(tempfile.mkdtemp(prefix=f"design-{name}-"))
    os.environ["TRAJECTORY_HOME"] = str(folder / "home")
    started = time.perf_counter()
    built = build_suite(design, folder / "home" / "hub", progress=True)
    build_s = time.perf_counter() - started
    if revisions is None:  # the first checkpoint, the first with top-1 >= 20 %, the middle, main
        names = built.revisions
        learned = [n for n in names if built.accuracy[n]["all"] >= 0.2]
        chosen = sorted({names[0], learned[0] if learned else names[0], names[len(names) // 2], names[-1]}, key=names.index)
        revisions = ",".join(chosen)
    config = load_pipeline("reference").with_overrides(
        {
            "model.suite": name,
            "model.repo": design.repo_id,
            "model.cache_dir": folder / "home" / "hub",
            "effects.every": 1,
            "ablation.test_every": 1,
            "ablation.test_draws": test_draws,  # the target's: >= 199 size-matched random draws
            "grafting.enabled": False,
            "extractive.enabled": False,
        }
    )
    db = folder / "trajectory.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    ingest(config, db, spec=revisions, progress=True)
    ingest_s = time.perf_counter() - started
    result = {
        "design": name,
        "build_s": round(build_s, 1),
        "ingest_s": round(ingest_s, 1),
        "ingested": revisions,
        "weights_digest": built_digest(design, folder / "home" / "hub"),
        "accuracy": {n: round(built.accuracy[n]["all"], 3) for n in built.revisions},
        **figures(db),
    }
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _differences(name: str) -> str:
    """What a design changes against the default reference (v3), field by field (the corpus's fields by name)."""
    from dataclasses import fields

    from trajectory.suite.recipe import DESIGNS, FULL

    design = DESIGNS[name]
    changed = []
    for spec in fields(FULL):
        ours, theirs = getattr(design, spec.name), getattr(FULL, spec.name)
        if spec.name == "repo_id" or ours == theirs:
            continue
        if spec.name == "corpus":
            changed += [f"{f.name}={getattr(ours, f.name)}" for f in fields(ours) if getattr(ours, f.name) != getattr(theirs, f.name)]
        else:
            changed.append(f"{spec.name}={ours}")
    return ", ".join(changed) or "(the default)"


def design_table(table: dict) -> str:
    """The designs measured, as a Markdown table (docs/method.md quotes it; tests/test_docs.py checks the quote)."""

    def share(value: float | None) -> str:
        return "–" if value is None else f"{round(100 * value)} %"

    lines = [
        "| design | changes against v3 | top-1 first / middle / main | F_x at main | top-k share for 80 % | active heads (×) | heads ≥ 1 logit | relations causal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in table.items():
        top1, active = row["top1"], row["active_heads"]
        causal = "–" if row["relations_with_causal_role_main"] is None else f"{row['relations_with_causal_role_main']} of {row['relations']}"
        lines.append(
            f"| {name} | {_differences(name)} | {share(top1['first'])} / {share(top1['middle'])} / {share(top1['main'])} "
            f"| {share(row['fact_circuit_head_share_main'])} | {share(row['topk_share80_main'])} "
            f"| {active['there']} → {active['main']} (×{active['ratio']}) | {row['heads_costing_1_logit_main']} of {row['heads']} | {causal} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, help="a store of the reference pipeline: measure it")
    parser.add_argument("--design", nargs="*", help="designs to build and measure (see --list)")
    parser.add_argument("--revisions", help="designs: the revisions to ingest (default: first, first >= 20 %%, middle, main)")
    parser.add_argument("--keep", type=Path, help="designs: keep the build and the store in this folder")
    parser.add_argument("--test-draws", type=int, default=199, help="designs: random draws of the role-causality test (default 199)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--table", action="store_true", help="print the designs measured as a Markdown table (docs/method.md)")
    args = parser.parse_args()
    if args.list:
        from trajectory.suite.recipe import DESIGNS

        for name, design in DESIGNS.items():
            print(name, design)
        return
    if args.table:
        print(design_table(json.loads((RESULTS / "reference_designs.json").read_text())), end="")
        return
    if args.db:
        result = figures(args.db)
        (RESULTS / "reference_phenomena.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result, indent=1))
        return
    path = RESULTS / "reference_designs.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    for name in args.design or []:
        table[name] = measure_design(name, args.revisions, args.keep, args.test_draws)
        print(json.dumps(table[name], indent=1))
        path.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
