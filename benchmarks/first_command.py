"""The README's first command, measured (not a test): `trajectory ingest --revisions all` from an empty
TRAJECTORY_HOME into a new store, every default stage on (it builds the reference trajectory first).

Wall time of the whole command, the build's share (the suite's own marker), each stage's seconds summed
over revisions (stage_runs, revisions), the peak resident memory of the command's process, and the machine.
The README quotes `wall_s` from the file this writes; a test checks that it does.

    python benchmarks/first_command.py [--keep DIR]   # writes benchmarks/results/first_command.json
                                                      # --keep: leave TRAJECTORY_HOME and the store in DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

RESULT = Path(__file__).parent / "results" / "first_command.json"
COMMAND = ["trajectory", "ingest", "--revisions", "all"]


def stage_seconds(db: Path) -> dict[str, float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        ifr = con.sql("SELECT sum(seconds) FROM revisions").fetchall()[0][0]
        later = dict(con.sql("SELECT stage, sum(seconds) FROM stage_runs GROUP BY stage").fetchall())
        revisions = con.sql("SELECT count(DISTINCT revision) FROM revisions").fetchall()[0][0]
    finally:
        con.close()
    return {"revisions": revisions, "ifr_s": round(ifr, 1), **{f"{stage}_s": round(s, 1) for stage, s in sorted(later.items())}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, default=None, help="keep TRAJECTORY_HOME (DIR/home) and the store (DIR/trajectory.duckdb)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="first-command-"))
    shutil.rmtree(folder / "home", ignore_errors=True)
    (folder / "trajectory.duckdb").unlink(missing_ok=True)
    env = dict(os.environ, TRAJECTORY_HOME=str(folder / "home"))
    db = folder / "trajectory.duckdb"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trajectory", "-q", *COMMAND[1:], "--db", str(db)], check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # kB on Linux
    marker = next((folder / "home" / "hub").glob("models--*/trajectory-suite.json"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    result = {
        "command": " ".join(COMMAND) + "   (empty TRAJECTORY_HOME, new store: builds the reference, then every default stage)",
        "wall_s": round(wall, 1),
        "suite_build_s": json.loads(marker.read_text())["seconds"],
        **stage_seconds(db),
        "peak_rss_gb": round(peak_gb, 2),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "commit": commit,
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
