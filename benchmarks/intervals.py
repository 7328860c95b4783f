"""Cost and stability of the intervals and tests an ingest stores (not a test).

On a store of the full reference (the README's first command; --db), for its τ = 0.01 analysis:
- the time of all intervals and tests at the default settings (goal: 60 s on 2 cores);
- how it grows with revisions (copies of the store holding the first K revisions);
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
SHARES = ("top1", "graft_recovery")
ROLES = ("role_count", "role_iou", "transition")


def analysis_of(db: Path) -> str:
    """The τ = 0.01 analysis of the largest probe set (the reference's)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("SELECT a.analysis_id FROM analyses a JOIN probe_sets p USING (probe_set_id) "
                       "WHERE a.tau = 0.01 ORDER BY p.n_facts DESC, a.created_at LIMIT 1").fetchall()[0][0]
    finally:
        con.close()


def movement(first: pl.DataFrame, second: pl.DataFrame, measures: tuple[str, ...]) -> float:
    """The 95th percentile over intervals of how far an end moves between two seeds (shares: as fractions)."""
    keys = ["measure", "revision", "scope", "category", "to_category"]
    a = first.filter(pl.col("measure").is_in(measures)).sort(keys, nulls_last=True)
    b = second.filter(pl.col("measure").is_in(measures)).sort(keys, nulls_last=True)
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
    result["default_settings"] = {"resamples": IntervalSettings().resamples, "role_resamples": IntervalSettings().role_resamples,
                                  "seconds": round(time.perf_counter() - started, 2)}
    stability = []
    for shares, roles in ((250, 250), (500, 500), (1000, 1000), (2000, 2000), (4000, 4000)):
        runs = [store_intervals(db, analysis, IntervalSettings(shares, roles, seed=seed))["intervals"] for seed in (0, 1)]
        stability.append({"resamples": shares, "role_resamples": roles, "p95_end_movement_shares": round(movement(*runs, SHARES), 4),
                          "p95_end_movement_roles": round(movement(*runs, ROLES), 4)})
        print(stability[-1], flush=True)
    result["stability_two_seeds"] = stability
    con = duckdb.connect(str(db), read_only=True)
    ordinals = [o for (o,) in con.execute("SELECT DISTINCT ordinal FROM revisions WHERE analysis_id = ? ORDER BY 1", [analysis]).fetchall()]
    con.close()
    scaling = []
    for k in (10, 20, len(ordinals)):
        copy = work / f"first{k}.duckdb"
        shutil.copy(db, copy)
        con = duckdb.connect(str(copy))
        con.execute("DELETE FROM revisions WHERE ordinal >= ?", [ordinals[k - 1] + 1])
        con.close()
        began = time.perf_counter()
        store_intervals(copy, analysis)
        scaling.append({"revisions": k, "facts": 160, "seconds": round(time.perf_counter() - began, 2)})
        print(scaling[-1], flush=True)
    result["scaling"] = scaling
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
