"""``trajectory query``: named questions from ``sql/queries/`` or ad-hoc SQL over the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import polars as pl

from trajectory.errors import TrajectoryError
from trajectory.paths import SQL_DIR
from trajectory.store.db import reader


def named_queries() -> dict[str, tuple[str, str]]:
    """name -> (first comment line, SQL text)."""
    queries = {}
    for path in sorted((SQL_DIR / "queries").glob("*.sql")):
        text = path.read_text()
        first = next((line[2:].strip() for line in text.splitlines() if line.startswith("--")), "")
        queries[path.stem] = (first, text)
    return queries


def run_sql(db: Path, sql: str) -> pl.DataFrame:
    with reader(db) as con:
        try:
            return pl.from_arrow(con.sql(sql).to_arrow_table())
        except duckdb.Error as err:
            raise TrajectoryError(f"query failed: {str(err).splitlines()[0]}") from None


def run_query_command(args: argparse.Namespace) -> int:
    queries = named_queries()
    if args.list or not args.sql:
        for name, (about, _) in queries.items():
            print(f"{name:<30} {about}")
        return 0
    sql = queries[args.sql][1] if args.sql in queries else args.sql
    if args.sql not in queries and not sql.lstrip().lower().startswith(("select", "with", "from", "describe", "show", "summarize", "pivot")):
        raise TrajectoryError(f"unknown query {args.sql!r}; 'trajectory query --list' shows the named ones")
    frame = run_sql(Path(args.db), sql)
    if args.format == "parquet":
        if not args.output:
            raise TrajectoryError("--format parquet needs --output FILE")
        frame.write_parquet(args.output)
    elif args.format == "csv":
        frame.write_csv(args.output or sys.stdout)
    elif args.format == "json":
        text = frame.write_json()
        Path(args.output).write_text(text) if args.output else print(text)
    else:
        with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=60, tbl_width_chars=200):
            print(frame)
    return 0
