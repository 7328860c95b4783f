"""Cost and stability of the intervals and tests an ingest stores (not a test).

On a store of the full reference (the README's first command; --db), for its τ = 0.01 analysis:
- the time of all intervals and tests at the default settings (goal: 60 s on 2 cores);
- how it grows with revisions × facts (copies of the store holding the first K revisions, and every
  revision with every 2nd or 4th fact of the probe set);
- stability: the interval ends of the same settings under two seeds, per number of resamples; the default
  is the smallest B whose ends move by at most 0.01 (shares; roles at their own B) at the 95th percentile.

    python benchmarks/intervals.py --db trajectory.duckdb   # writes benchmarks/results/intervals.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from trajectory.pipeline.intervals import IntervalSettings, store_intervals

RESULT = Path(__file__).parent / "results" / "intervals.json"
SHARES = ("top1", "graft_recovery", "share_top1_clean", "share_top1_last", "share_top1_subject")  # their '*' rows
ROLES = ("role_count", "role_iou", "transition")


def analysis_of(db: Path) -> str:
    """The τ = 0.01 analysis of the largest probe set (the reference's)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(
            "SELECT a.analysis_id FROM analyses a JOIN probe_sets p USING (probe_set_id) "
            "WHERE a.tau = 0.01 ORDER BY p.n_facts DESC, a.created_at LIMIT 1"
        ).fetchall()[0][0]
    finally:
        con.close()


def movement(first: pl.DataFrame, second: pl.DataFrame, measures: tuple[str, ...]) -> float:
    """The 95th percentile over intervals of how far an end moves between two seeds (shares: as fractions)."""
    keys = ["measure", "revision", "scope", "category", "to_category", "relation"]
    # The headline estimates: pooled over relations (per-relation role rows are mostly empty sets whose [0, 0]
    # never moves, and would hide the movement of the rest), graft recovery pooled over the pairs.
    headline = (
        pl.col("measure").is_in(measures)
        & (pl.col("relation").is_null() | (pl.col("relation") == "*"))
        & ~((pl.col("measure") == "graft_recovery") & pl.col("revision").is_not_null())
    )
    a = first.filter(headline).sort(keys, nulls_last=True)
    b = second.filter(headline).sort(keys, nulls_last=True)
    scale = np.where(a["measure"].to_numpy() == "role_count", 1 / a["n"].to_numpy().clip(1), 1.0)  # counts as shares
    moved = np.concatenate([np.abs(a[c].to_numpy() - b[c].to_numpy()) * scale for c in ("lower", "upper")])
    moved = moved[~np.isnan(moved)]
    return float(np.percentile(moved, 95)) if len(moved) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="intervals-bench-"))
    db = work / "store.duckdb"
    shutil.copy(args.db, db)
    analysis = analysis_of(db)
    result = {"command": "python benchmarks/intervals.py --db <reference store>", "machine": f"{os.cpu_count()} cores"}
    started = time.perf_counter()
    store_intervals(db, analysis)
    result["default_settings"] = {
        "resamples": IntervalSettings().resamples,
        "role_resamples": IntervalSettings().role_resamples,
        "seconds": round(time.perf_counter() - started, 2),
    }
    stability = []
    for shares, roles in ((250, 250), (500, 500), (1000, 1000), (2000, 2000), (4000, 4000)):
        runs = [store_intervals(db, analysis, IntervalSettings(shares, roles, seed=seed))["intervals"] for seed in (0, 1)]
        stability.append(
            {
                "resamples": shares,
                "role_resamples": roles,
                "p95_end_movement_shares": round(movement(*runs, SHARES), 4),
                "p95_end_movement_roles": round(movement(*runs, ROLES), 4),
            }
        )
        print(stability[-1], flush=True)
    result["stability_two_seeds"] = stability
    con = duckdb.connect(str(db), read_only=True)
    ordinals = [o for (o,) in con.execute("SELECT DISTINCT ordinal FROM revisions WHERE analysis_id = ? ORDER BY 1", [analysis]).fetchall()]
    n_facts = con.execute("SELECT count(*) FROM facts f JOIN analyses a USING (probe_set_id) WHERE a.analysis_id = ?", [analysis]).fetchall()[0][0]
    con.close()
    scaling = []
    for k, every in ((10, 1), (20, 1), (len(ordinals), 4), (len(ordinals), 2), (len(ordinals), 1)):
        copy = work / f"first{k}-every{every}.duckdb"
        shutil.copy(db, copy)
        con = duckdb.connect(str(copy))
        con.execute("DELETE FROM revisions WHERE ordinal >= ?", [ordinals[k - 1] + 1])
        # About one fact in `every` kept, chosen by a hash of its id (so every relation keeps about its share).
        con.execute(
            "DELETE FROM facts WHERE probe_set_id = (SELECT probe_set_id FROM analyses WHERE analysis_id = ?) AND hash(fact_id) % ? <> 0",
            [analysis, every],
        )
        kept = con.execute("SELECT count(*) FROM facts f JOIN analyses a USING (probe_set_id) WHERE a.analysis_id = ?", [analysis]).fetchall()[0][0]
        con.close()
        began = time.perf_counter()
        store_intervals(copy, analysis)
        scaling.append({"revisions": k, "facts": kept, "seconds": round(time.perf_counter() - began, 2)})
        print(scaling[-1], flush=True)
    result["probe_facts"] = n_facts
    result["scaling"] = scaling
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
