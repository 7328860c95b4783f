"""Does building the reference while watching it shorten the first command on this machine? (not a test)

Two ways to get the full reference ingested with every default stage, each from an empty TRAJECTORY_HOME:
- one after the other: `trajectory suite build --run-folder DIR`, then `trajectory ingest` of that run;
- side by side: the same build, and `trajectory ingest --watch --until 1000` of the run it writes, started
  together, with one thread each (OMP_NUM_THREADS=1; with two threads each on two cores the processes
  thrash and the pair took well over twice as long).

    python benchmarks/build_while_watching.py     # writes benchmarks/results/build_while_watching.json
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = Path(__file__).parent / "results" / "build_while_watching.json"
TRAJECTORY = [sys.executable, "-m", "trajectory", "-q"]


def pipeline(folder: Path) -> Path:
    """pipelines/reference.toml reading the run folder instead of the Hub cache layout."""
    text = (ROOT / "pipelines" / "reference.toml").read_text()
    text = text.replace('repo = "trajectory/olmo-tiny-facts-v3"', f'repo = "run/reference"\npath = "{folder / "run"}"')
    path = folder / "run.toml"
    path.write_text(text.replace('suite = "full"\n', ""))
    return path


def one_after_the_other(folder: Path) -> float:
    env = dict(os.environ, TRAJECTORY_HOME=str(folder / "home"))
    started = time.perf_counter()
    subprocess.run([*TRAJECTORY, "suite", "build", "--run-folder", str(folder / "run")], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*TRAJECTORY, "ingest", "-p", str(pipeline(folder)), "--db", str(folder / "x.duckdb")], check=True, env=env, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def side_by_side(folder: Path) -> float:
    env = dict(os.environ, TRAJECTORY_HOME=str(folder / "home"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.perf_counter()
    build = subprocess.Popen([*TRAJECTORY, "suite", "build", "--run-folder", str(folder / "run")], env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*TRAJECTORY, "ingest", "-p", str(pipeline(folder)), "--db", str(folder / "x.duckdb"), "--watch", "--until", "1000", "--poll", "2"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    assert build.wait() == 0
    return time.perf_counter() - started


def main() -> None:
    result = {"machine": f"{os.cpu_count()} cores", "command": "python benchmarks/build_while_watching.py"}
    for name, way in (("one_after_the_other_s", one_after_the_other), ("side_by_side_one_thread_each_s", side_by_side)):
        folder = Path(tempfile.mkdtemp(prefix="build-watch-"))
        try:
            result[name] = round(way(folder), 1)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(name, result[name], flush=True)
    result["side_by_side_over_one_after_the_other"] = round(result["side_by_side_one_thread_each_s"] / result["one_after_the_other_s"], 2)
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
