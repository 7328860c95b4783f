"""Where the project keeps data it generates (checkpoints, caches): never inside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"
PIPELINES_DIR = REPO_ROOT / "pipelines"
DASHBOARDS_DIR = REPO_ROOT / "dashboards"


def trajectory_home() -> Path:
    """``$TRAJECTORY_HOME`` (unset or empty: ``~/.cache/trajectory``)."""
    return Path(os.environ.get("TRAJECTORY_HOME") or Path.home() / ".cache" / "trajectory").expanduser()  # empty = unset


def reference_hub_cache() -> Path:
    """Hugging Face cache folder holding the self-built reference trajectory."""
    return trajectory_home() / "hub"
