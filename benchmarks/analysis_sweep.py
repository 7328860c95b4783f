"""What a τ/θ sweep costs against one analysis, on the reference trajectory (not a test).

Ingests the same revisions of the reference pipeline twice into fresh stores, in one run: once with one
analysis (τ 0.01, θ 0.1) and once with the sweep of the issue, τ 0.01,0.02,0.05 × θ 0.1,0.2 (6 analyses
from one forward pass per revision). Reports wall seconds and the per-revision processing seconds
(load, trace, roles; the revisions table's ``seconds``), and the ratio.

    python benchmarks/analysis_sweep.py [--revisions 8]     # writes benchmarks/results/analysis_sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from trajectory.config import load_pipeline
from trajectory.pipeline.orchestrator import ingest
from trajectory.pipeline.sources import open_source
from trajectory.store.query import run_sql

if TYPE_CHECKING:
    from trajectory.config import PipelineConfig

SWEEP = {"ifr.threshold": (0.01, 0.02, 0.05), "roles.theta": (0.1, 0.2)}


def measure(config: PipelineConfig, spec: str, folder: Path, label: str) -> dict:
    db = folder / f"{label}.duckdb"
    started = time.perf_counter()
    assert ingest(config, db, spec=spec, progress=False) == 0
    wall = time.perf_counter() - started
    per_revision = run_sql(db, "SELECT revision, any_value(seconds) AS s FROM revisions GROUP BY revision")["s"].to_list()
    rows = run_sql(db, "SELECT count(*) AS n FROM roles")["n"][0]
    return {
        "analyses": len(config.settings()),
        "wall_s": round(wall, 2),
        "per_revision_s_mean": round(sum(per_revision) / len(per_revision), 3),
        "role_rows": int(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=8, help="how many revisions, spread over the trajectory")
    args = parser.parse_args()
    base = load_pipeline("reference")
    names = [r.name for r in open_source(base, progress=True).list_revisions()]
    picked = [names[round(i * (len(names) - 1) / (args.revisions - 1))] for i in range(args.revisions)]
    spec = ",".join(dict.fromkeys(picked))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one = measure(base, spec, folder, "one")
        sweep = measure(base.with_overrides(SWEEP), spec, folder, "sweep")
    result = {
        "command": "python benchmarks/analysis_sweep.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, no GPU",
        "pipeline": "reference (4 layers x 16 heads, 160 probe facts), float32 on CPU",
        "revisions": spec.split(","),
        "one_analysis": one,
        "sweep_tau_0.01_0.02_0.05_x_theta_0.1_0.2": sweep,
        "sweep_over_one_per_revision": round(sweep["per_revision_s_mean"] / one["per_revision_s_mean"], 2),
        "sweep_over_one_wall": round(sweep["wall_s"] / one["wall_s"], 2),
        "six_separate_ingests_would_cost": "6x one analysis (one forward pass and trace per analysis)",
    }
    out = Path(__file__).parent / "results" / "analysis_sweep.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
