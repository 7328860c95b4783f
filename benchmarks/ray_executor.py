"""The Ray executor against the in-process ingest, on this machine (not a test).

Three fresh ingests of the reference trajectory (41 revisions, IFR and roles only, so that the executor's
cost is not buried under the later stages), each in its own process: in-process; Ray with one task at a
time (--max-in-flight 1); Ray with two at a time (one per core, 1 CPU each). Also measured in the same run:
a local cluster's start and stop with one no-op task on a fresh worker that imports the task's modules.
Per-task overhead = (Ray one at a time − in-process − the cluster's fixed cost) / revisions; the
executor's own share leaves out the difference in the stage's time (as each ingest stores it).

    python benchmarks/ray_executor.py           # writes benchmarks/results/ray_executor.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

STAGES = ["--no-ablation", "--no-grafting", "--no-extractive"]
RUNS = {
    "in_process": [],
    "ray_1_worker": ["--executor", "ray", "--max-in-flight", "1", "--cpus-per-task", "2"],
    "ray_2_workers": ["--executor", "ray", "--max-in-flight", "2"],
}


def ingest(folder: Path, name: str, extra: list[str], pipeline: str = "reference") -> dict:
    """One fresh ingest in its own process: its wall time, and the IFR stage's seconds summed over revisions."""
    db = folder / f"{name}.duckdb"
    command = [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", pipeline, "--db", str(db), *STAGES, *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    con = duckdb.connect(str(db), read_only=True)
    revisions, work = con.execute("SELECT count(*), sum(seconds) FROM revisions").fetchone()
    con.close()
    return {"command": " ".join(["trajectory", *command[3:]]), "wall_s": round(wall, 1), "revisions": revisions, "ifr_stage_s_sum": round(work, 1)}


CLUSTER_START = """
import time
from trajectory.config import ExecutorSection
from trajectory.pipeline.ray_executor import ray_cluster, scratch_budget_mb
start = time.perf_counter()  # the driver's own imports are paid in-process too: not counted
with ray_cluster(ExecutorSection(), False, scratch_budget_mb(None)) as ray:
    up = time.perf_counter()
    ray.get(ray.remote(lambda: __import__("trajectory.pipeline.revision")).remote())
    warm = time.perf_counter()
print(up - start, warm - up, time.perf_counter() - warm)
"""


def local_cluster() -> dict:
    """A local cluster's start, a fresh worker's first task (importing the task's modules), and its stop."""
    out = subprocess.run([sys.executable, "-c", CLUSTER_START], check=True, capture_output=True, text=True).stdout.split()
    start_s, worker_s, stop_s = (float(x) for x in out[-3:])
    return {"ray_import_and_start_s": round(start_s, 1), "first_task_on_a_fresh_worker_s": round(worker_s, 1), "stop_s": round(stop_s, 1)}


def overhead_per_task(runs: dict, cluster: dict, serial: str = "ray_1_worker") -> dict:
    """Extra wall time per revision of one-at-a-time Ray tasks over in-process, the cluster's fixed cost taken
    out: in all, and the executor's own share (outside the stage's stored seconds)."""
    fixed, ray, local = sum(cluster.values()), runs[serial], runs["in_process"]
    n = local["revisions"]
    return {
        "total_s": round((ray["wall_s"] - local["wall_s"] - fixed) / n, 2),
        "outside_the_stage_s": round(((ray["wall_s"] - ray["ifr_stage_s_sum"]) - (local["wall_s"] - local["ifr_stage_s_sum"]) - fixed) / n, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ingest(folder, "warm_up", ["-r", "main"])  # the reference built, caches warm: not measured
        runs = {name: ingest(folder, name, extra) for name, extra in RUNS.items()}
    cluster = local_cluster()
    result = {
        "command": "python benchmarks/ray_executor.py",
        "machine": f"{os.cpu_count()} cores, no GPU",
        "pipeline": "reference (41 revisions), IFR and roles only",
        "runs": runs,
        "local_cluster": cluster,
        "overhead_per_task": overhead_per_task(runs, cluster),
        "ray_2_workers_over_in_process": round(runs["ray_2_workers"]["wall_s"] / runs["in_process"]["wall_s"], 2),
        "ray_2_workers_over_ray_1_worker": round(runs["ray_2_workers"]["wall_s"] / runs["ray_1_worker"]["wall_s"], 2),
    }
    (Path(__file__).parent / "results" / "ray_executor.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
