"""Size of the stored route graphs (table routes), their nodes' logit lens (node_lens) and of the routes page (not a test).

On a store of the full reference (the README's first command; --db), for its τ = 0.01 analysis: rows, edges per
fact and revision, bytes per edge (the table alone, as zstd Parquet: about what DuckDB's compressed columns
take), the page's size with what it embeds, and an estimate for the study's OLMo-7B run (32 layers × 32
heads, 160 facts × 40 revisions) from the measured density: edges per (layer × prompt token) of a fact.

    python benchmarks/routes_size.py --db trajectory.duckdb   # writes benchmarks/results/routes_size.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import duckdb

from trajectory.dashboard.routes_page import EMBED_EDGES, EMBED_LENS, embedded_ordinals, render_routes_page, routes_data
from trajectory.store.db import reader, scope

RESULT = Path(__file__).parent / "results" / "routes_size.json"
OLMO_7B = {"layers": 32, "facts": 160, "revisions": 40, "mean_prompt_tokens": 14.0}  # assumed: a template prompt in OLMo's BPE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    con = duckdb.connect(str(args.db), read_only=True)
    analysis = con.sql(
        "SELECT a.analysis_id FROM analyses a JOIN probe_sets p USING (probe_set_id) WHERE a.tau = 0.01 ORDER BY p.n_facts DESC, a.created_at LIMIT 1"
    ).fetchall()[0][0]
    rows, facts, revisions = con.execute(
        "SELECT count(*), count(DISTINCT fact_id), count(DISTINCT revision) FROM routes WHERE analysis_id = ?", [analysis]
    ).fetchall()[0]
    layers = con.execute("SELECT max(layer) + 1 FROM roles WHERE analysis_id = ?", [analysis]).fetchall()[0][0]
    tokens = con.execute("SELECT avg(r.root + 1) FROM (SELECT DISTINCT fact_id, root FROM routes WHERE analysis_id = ?) r", [analysis]).fetchall()[0][
        0
    ]
    per_kind = dict(con.execute("SELECT kind, count(*) FROM routes WHERE analysis_id = ? GROUP BY 1", [analysis]).fetchall())
    with tempfile.TemporaryDirectory() as folder:
        parquet = Path(folder) / "routes.parquet"
        con.execute(f"COPY (SELECT * FROM routes WHERE analysis_id = '{analysis}') TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)")
        table_bytes = parquet.stat().st_size
        lens_parquet = Path(folder) / "node_lens.parquet"
        con.execute(f"COPY (SELECT * FROM node_lens WHERE analysis_id = '{analysis}') TO '{lens_parquet}' (FORMAT parquet, COMPRESSION zstd)")
        lens_bytes = lens_parquet.stat().st_size
    lens_rows = con.execute("SELECT count(*) FROM node_lens WHERE analysis_id = ?", [analysis]).fetchall()[0][0]
    con.close()
    started = time.perf_counter()
    with reader(args.db) as scoped:
        scope(scoped, [analysis])
        data = routes_data(scoped, analysis)
        page = render_routes_page("routes", [], "", data, "plotly.min.js")
    page_seconds = time.perf_counter() - started
    edges_per_fact = rows / (facts * revisions)
    density = edges_per_fact / (layers * tokens)  # edges per (layer × prompt token) of a fact
    estimate_edges = density * OLMO_7B["layers"] * OLMO_7B["mean_prompt_tokens"] * OLMO_7B["facts"] * OLMO_7B["revisions"]
    per_revision = estimate_edges / OLMO_7B["revisions"]
    result = {
        "command": "python benchmarks/routes_size.py --db <reference store>",
        "machine": f"{os.cpu_count()} cores",
        "reference": {
            "rows": rows,
            "facts": facts,
            "revisions": revisions,
            "layers": layers,
            "mean_prompt_tokens": round(tokens, 2),
            "per_kind": per_kind,
            "edges_per_fact_and_revision": round(edges_per_fact, 1),
            "table_bytes_parquet_zstd": table_bytes,
            "bytes_per_edge": round(table_bytes / rows, 2),
            "page_bytes": len(page.encode()),
            "page_revisions_embedded": len(data["embedded"]),
            "page_seconds": round(page_seconds, 2),
            "embed_limit_edges": EMBED_EDGES,
            "node_lens_rows": lens_rows,
            "node_lens_bytes_parquet_zstd": lens_bytes,
            "page_lens_revisions_embedded": len(data["lens_embedded"]),
            "embed_limit_lens": EMBED_LENS,
        },
        "olmo_7b_estimate": {
            **OLMO_7B,
            "edges_per_layer_and_token": round(density, 3),
            "edges": round(estimate_edges),
            "table_bytes": round(estimate_edges * table_bytes / rows),
            "page_revisions_embedded": len(embedded_ordinals([per_revision] * OLMO_7B["revisions"])),
        },
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
