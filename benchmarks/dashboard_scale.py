"""Dashboard size and build time at the study's scale (not a test).

A store shaped like OLMo-7B's ingest (41 revisions, 32 layers × 32 heads + 32 FFNs, 10 relations,
160 facts; roles and scores drawn at random, generated in SQL) and ``trajectory dashboard`` over it:
seconds per figure and the page's size.

    python benchmarks/dashboard_scale.py     # writes benchmarks/results/dashboard_scale.json
"""

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from trajectory.dashboard.build import analysis_context, build_dashboards, build_figure, stored_analyses
from trajectory.dashboard.spec import load_dashboards
from trajectory.facts import load_builtin
from trajectory.hub.revisions import order_revisions
from trajectory.store.db import reader, writer

LAYERS, HEADS = 32, 32
REVISIONS = [f"step{s}-tokens{round(s * 4.194304 / 1000)}B" for s in range(5000, 205000, 5000) if s != 115000] + ["main"]


def write_store(db: Path) -> None:
    facts = list(load_builtin())
    with writer(db) as con:
        con.execute("INSERT INTO probe_sets VALUES ('p', 'facts_160', 160, now())")
        con.execute(
            "INSERT INTO analyses VALUES ('a', 'olmo-7b/facts_160/tau=0.01/theta=0.1/bfloat16', 'olmo-7b', 'p', 0.01, 0.1, "
            "'per_position', 'bfloat16', now())"
        )
        con.execute("INSERT INTO runs VALUES ('r', 'a', 'bench', 'cuda', '{}', now())")
        for fact in facts:
            con.execute(
                "INSERT INTO facts VALUES ('p', ?, ?, ?, ?, ?, ?)",
                [fact.fact_id, fact.relation, fact.subject, fact.object, fact.template, fact.relation_type],
            )
        for ordinal, revision in enumerate(order_revisions(REVISIONS)):
            con.execute(
                "INSERT INTO revisions (analysis_id, model, revision, ordinal, step, tokens, run_id, ingested_at) "
                "VALUES ('a', 'olmo-7b', ?, ?, ?, ?, 'r', now())",
                [revision.name, ordinal, revision.step, revision.tokens],
            )
        con.execute(f"""
            CREATE TEMP TABLE components AS
            SELECT 'head' AS kind, l AS layer, h AS head FROM range({LAYERS}) a(l), range({HEADS}) b(h)
            UNION ALL SELECT 'ffn', l, NULL FROM range({LAYERS}) a(l)""")
        con.execute("""
            INSERT INTO roles
            SELECT 'a', 'olmo-7b', v.revision, r.relation, c.kind, c.layer, c.head,
                   (['general', 'entity', 'relation', 'fact', 'deactivated'])[1 + floor(random() * 5)::INT]
            FROM revisions v, (SELECT DISTINCT relation FROM facts) r, components c""")
        con.execute("""
            INSERT INTO component_scores
            SELECT 'a', 'olmo-7b', v.revision, c.kind, c.layer, c.head, s.scope, s.relation, s.fact_id, random()
            FROM revisions v, components c,
                 (SELECT 'general' AS scope, NULL AS relation, NULL AS fact_id
                  UNION ALL SELECT 'entity', NULL, NULL
                  UNION ALL SELECT DISTINCT 'relation', relation, NULL FROM facts
                  UNION ALL SELECT 'fact', relation, fact_id FROM facts) s""")
        con.execute("""
            INSERT INTO accuracy
            SELECT 'a', 'olmo-7b', v.revision, f.fact_id, r, r = 0, r < 10
            FROM revisions v, facts f, LATERAL (SELECT floor(random() * 20)::INT AS r)""")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "olmo7b-shaped.duckdb"
        started = time.perf_counter()
        write_store(db)
        store_s = time.perf_counter() - started
        spec = next(s for s in load_dashboards() if s.name == "training")
        per_figure = {}
        with reader(db) as con:
            (summary,) = stored_analyses(con)
            context = analysis_context(summary)
            for figure in spec.figures:
                started = time.perf_counter()
                build_figure(con, figure, context)
                per_figure[figure.id] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        pages = build_dashboards(db, Path(tmp) / "out", progress=False)
        total_s = time.perf_counter() - started
        result = {
            "command": "python benchmarks/dashboard_scale.py",
            "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, no GPU",
            "store": f"{len(REVISIONS)} revisions, {LAYERS}x{HEADS} heads + {LAYERS} FFNs, 10 relations, 160 facts (random roles/scores)",
            "store_write_s": round(store_s, 1),
            "figure_build_s": per_figure,
            "trajectory_dashboard_s": round(total_s, 1),
            "page_mb": round(pages[1].stat().st_size / 1e6, 1),
        }
    out = Path(__file__).parent / "results" / "dashboard_scale.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
