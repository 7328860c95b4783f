"""What llm-transparency-tool's FFN renormalisation (``llm-tt``) changes on the reference trajectory (not a test; METHOD.md §3).

Ingests every reference revision once with both ``ifr.ffn_renormalisation`` modes at τ = 0.01 (the
study's) and 0.05 (four analyses from one forward pass per revision, into one store), then compares
the modes at each τ with SQL over the store's views: active FFNs and heads, roles at the final
revision, (revision, relation, component) roles that differ, circuit rows that differ, IoU with the
final revision, and accuracy (which must not differ).

    python benchmarks/ffn_renormalisation.py [--db F]   # writes benchmarks/results/ffn_renormalisation.json
"""

import argparse
import json
import tempfile
from pathlib import Path

from trajectory.config import load_pipeline
from trajectory.pipeline.orchestrator import ingest
from trajectory.store.query import run_sql

COMPARE = """
WITH modes AS (SELECT analysis_id, tau, ffn_renormalisation AS mode FROM analyses),
active AS (
    SELECT m.tau, m.mode, c.kind, avg(c.n_active) AS mean_active, min(c.n_active) AS min_active, max(c.n_active) AS max_active,
           arg_max(c.n_active, c.ordinal) AS final_active
    FROM active_components c JOIN modes m USING (analysis_id) GROUP BY ALL
),
roles_final AS (
    SELECT m.tau, m.mode, s.kind, s.role, count(*) AS n
    FROM strongest_roles s JOIN modes m USING (analysis_id)
    WHERE s.ordinal = (SELECT max(ordinal) FROM revisions)
    GROUP BY ALL
)
SELECT a.tau, a.mode, a.kind, a.mean_active, a.min_active, a.max_active, a.final_active,
       (SELECT list(struct_pack(role := r.role, n := r.n) ORDER BY r.role) FROM roles_final r
        WHERE r.tau = a.tau AND r.mode = a.mode AND r.kind = a.kind) AS final_roles
FROM active a ORDER BY a.tau, a.kind, a.mode
"""

ROLE_CHANGES = """
-- (revision, relation, component) whose role differs between the two modes at one τ, per kind
SELECT ap.tau, p.kind, count(*) AS n_pairs, count(*) FILTER (WHERE p.role <> s.role) AS n_differ,
       count(*) FILTER (WHERE p.role <> 'deactivated' AND s.role = 'deactivated') AS active_to_deactivated
FROM roles p JOIN analyses ap ON ap.analysis_id = p.analysis_id AND ap.ffn_renormalisation = 'per_position'
JOIN analyses ast ON ast.tau = ap.tau AND ast.ffn_renormalisation = 'llm-tt'
JOIN roles s ON s.analysis_id = ast.analysis_id AND s.revision = p.revision AND s.relation = p.relation
            AND s.kind = p.kind AND s.layer = p.layer AND coalesce(s.head, -1) = coalesce(p.head, -1)
GROUP BY ALL ORDER BY ALL"""

CIRCUITS = """
-- Circuit memberships (revision, fact, root, component) in one mode and not the other, at one τ
WITH rows AS (
    SELECT a.tau, a.ffn_renormalisation AS mode, c.revision, c.fact_id, c.root, c.kind, c.layer, coalesce(c.head, -1) AS head
    FROM circuits c JOIN analyses a USING (analysis_id)
)
SELECT tau, kind, count(*) FILTER (WHERE mode = 'per_position') AS per_position_rows,
       count(*) FILTER (WHERE mode = 'llm-tt') AS llm_tt_rows,
       (SELECT count(*) FROM (SELECT revision, fact_id, root, kind, layer, head FROM rows r WHERE r.tau = o.tau AND r.kind = o.kind AND mode = 'per_position'
                              EXCEPT SELECT revision, fact_id, root, kind, layer, head FROM rows r WHERE r.tau = o.tau AND r.kind = o.kind AND mode = 'llm-tt')) AS only_per_position
FROM rows o GROUP BY ALL ORDER BY ALL
"""

IOU = """
SELECT m.tau, m.ffn_renormalisation AS mode, i.kind, i.role, avg(i.iou) AS mean_iou, min(i.iou) AS min_iou
FROM role_iou i JOIN analyses m USING (analysis_id)
WHERE i.relation = '*' AND i.role IN ('general', 'entity') AND i.iou IS NOT NULL
GROUP BY ALL ORDER BY m.tau, i.kind, i.role, mode
"""

ACCURACY = """
SELECT count(*) FILTER (WHERE a.top1 <> b.top1) AS differing_top1
FROM accuracy a JOIN accuracy b ON a.revision = b.revision AND a.fact_id = b.fact_id AND a.analysis_id < b.analysis_id
"""


def rows(db: Path, sql: str) -> list[dict]:
    return run_sql(db, sql).to_dicts()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=None, help="reuse this store (ingested with both modes); default: a temporary one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "ffn.duckdb"
        config = load_pipeline("reference").with_overrides({"ifr.threshold": (0.01, 0.05), "ifr.ffn_renormalisation": ("per_position", "llm-tt")})
        assert ingest(config, db, progress=False) == 0
        result = {
            "command": "python benchmarks/ffn_renormalisation.py",
            "pipeline": "reference (4 layers x 16 heads, 41 revisions, 160 facts), tau 0.01 and 0.05, theta 0.1",
            "active_and_final_roles": rows(db, COMPARE),
            "role_differences": rows(db, ROLE_CHANGES),
            "circuit_differences": rows(db, CIRCUITS),
            "iou_with_final_relations_pooled": rows(db, IOU),
            "accuracy_rows_differing": rows(db, ACCURACY)[0]["differing_top1"],
        }
    out = Path(__file__).parent / "results" / "ffn_renormalisation.json"
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
