"""``trajectory export``: every table of one analysis as Parquet, readable by polars, DuckDB and pandas as is.

Small tables are one file each (``<table>.parquet``); the per-revision tables are Hive-partitioned,
``<table>/model=<model>/revision=<revision>/data.parquet`` (values percent-encoded, which all three
readers decode), written one revision at a time so memory stays bounded. The folder is written beside
its destination and renamed into place: a crash leaves no half export.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import polars as pl
from tqdm.auto import tqdm

from trajectory.errors import TrajectoryError
from trajectory.store.analyses import choose_one
from trajectory.store.db import check_writable, reader, scope

if TYPE_CHECKING:
    import duckdb

SINGLE_FILES = ("analyses", "probe_sets", "facts", "fact_frequency", "prompts", "runs", "revisions", "intervals", "comparisons")
PARTITIONED = (
    "accuracy",
    "component_scores",
    "roles",
    "circuits",
    "logit_lens",
    "routes",
    "node_lens",
    "root_attention",
    "extractive_scores",
    "ocr",
    "stage_runs",
    "grafts",
    "ablations",
    "component_effects",
    "effect_baselines",
)


def export_analysis(db: Path, analysis: str | None, out: Path, *, progress: bool = True) -> tuple[str, list[Path]]:
    """Write the analysis ``analysis`` names (see :func:`choose`) into the new folder ``out``.

    Returns the analysis's name and the files written."""
    out = Path(os.path.realpath(Path(out).expanduser()))  # a symlink: export where it points
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TrajectoryError(f"{out} exists and is not an empty folder; pass a new --out")
    check_writable(out.parent, "--out")  # the export is written beside it, then renamed into place
    with reader(db) as con:
        analysis_id, name = choose_one(con, analysis, "export")
        scope(con, [analysis_id])
        partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            written = _write_tables(con, partial, progress)
            if out.exists():
                out.rmdir()
            os.replace(partial, out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return name, [out / path.relative_to(partial) for path in written]


def _write_tables(con: duckdb.DuckDBPyConnection, folder: Path, progress: bool) -> list[Path]:
    written = []
    for table in SINGLE_FILES:
        path = folder / f"{table}.parquet"
        _frame(con, f"SELECT * FROM {table}").write_parquet(path)
        written.append(path)
    partitions = con.sql("SELECT model, revision FROM revisions ORDER BY ordinal").fetchall()
    bar = tqdm(total=len(PARTITIONED) * len(partitions), desc="export", unit="part", disable=not progress)
    for table in PARTITIONED:
        for model, revision in partitions:
            frame = _frame(
                con,
                f"SELECT * EXCLUDE (model, revision) FROM {table} WHERE model = $model AND revision = $revision",
                {"model": model, "revision": revision},
            )
            if frame.height:
                path = folder / table / f"model={quote(model, safe='')}" / f"revision={quote(revision, safe='')}" / "data.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                frame.write_parquet(path)
                written.append(path)
            bar.update(1)
    bar.close()
    return written


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params or {}).to_arrow_table())
