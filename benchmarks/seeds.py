"""Build and ingest the reference from other seeds into one store (not a test, not part of the first command).

Runs `trajectory ingest --seed N` for each seed on a store that may already hold seed 0 (the README's first
command), timing each (the build of that seed's model on first use included), and writes the wall times and
what `trajectory query seed_findings` then says.

    python benchmarks/seeds.py --db STORE --home TRAJECTORY_HOME [--seeds 1,2]   # writes benchmarks/results/seeds.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

RESULT = Path(__file__).parent / "results" / "seeds.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True, help="the TRAJECTORY_HOME holding the reference hub")
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "trajectory", "-q", "ingest", "--revisions", "all", "--seed", str(seed), "--db", str(args.db)],
            check=True,
            env={**os.environ, "TRAJECTORY_HOME": str(args.home)},
        )
        runs.append({"seed": seed, "wall_s": round(time.perf_counter() - started, 1)})
        print(runs[-1], flush=True)
    con = duckdb.connect(str(args.db), read_only=True)
    stages = con.sql("""SELECT a.model, s.stage, round(sum(s.seconds), 1) FROM stage_runs s JOIN analyses a USING (analysis_id)
                        GROUP BY ALL ORDER BY 1, 2""").fetchall()
    con.close()
    findings = subprocess.run(
        [sys.executable, "-m", "trajectory", "query", "--db", str(args.db), "--format", "csv", "--analysis", "all", "seed_findings"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = {
        "command": "python benchmarks/seeds.py --db <store of the first command> --home <its TRAJECTORY_HOME>",
        "machine": f"{os.cpu_count()} cores",
        "runs": runs,
        "stage_seconds": [{"model": m, "stage": s, "seconds": t} for m, s, t in stages],
        "seed_findings_csv": findings,
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
