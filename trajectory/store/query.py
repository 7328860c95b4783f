"""``trajectory query``: named questions from ``sql/queries/`` or ad-hoc SQL over the store."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from trajectory.errors import TrajectoryError
from trajectory.paths import SQL_DIR
from trajectory.store.analyses import ALL, choose, describe_choice
from trajectory.store.db import check_output_file, lock_down, reader, scope

if TYPE_CHECKING:
    import pyarrow as pa


def named_queries() -> dict[str, tuple[str, str]]:
    """name -> (first comment line, SQL text)."""
    queries = {}
    for path in sorted((SQL_DIR / "queries").glob("*.sql")):
        text = path.read_text()
        first = next((line[2:].strip() for line in text.splitlines() if line.startswith("--")), "")
        queries[path.stem] = (first, text)
    return queries


READ_ONLY_STATEMENTS = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


def run_sql(db: Path, sql: str, analysis: str | None = ALL, *, say_which: bool = False, timeout: float | None = None) -> pl.DataFrame:
    """Run one read-only statement over the analyses ``analysis`` names (``all``: the whole store;
    None: each model's latest, see :func:`trajectory.store.analyses.choose`).

    The statement runs on a read-only connection with file access switched off; anything but a
    SELECT-like statement (DROP, DELETE, ATTACH, COPY, SET ...) is refused before it runs. It stops at
    once on Ctrl-C, and after ``timeout`` seconds when given, with one line.
    """
    with reader(db) as con:
        statements = _parse(con, sql)
        # PIVOT parses as several statements (MULTI); it reads, and the connection cannot write anyway.
        pivot = len(statements) == 1 and statements[0].type == duckdb.StatementType.MULTI and sql.lstrip().lower().startswith(("pivot", "unpivot"))
        if len(statements) != 1 or (statements[0].type not in READ_ONLY_STATEMENTS and not pivot):
            kinds = ", ".join(sorted({s.type.name for s in statements})) or "nothing"
            raise TrajectoryError(f"query refused: only one SELECT-like statement runs, read-only (got {kinds})")
        if analysis != ALL:
            chosen = choose(con, analysis)
            if say_which:
                print(describe_choice(con, chosen), file=sys.stderr)
            scope(con, chosen["analysis_id"].to_list())
        lock_down(con)
        return pl.from_arrow(_interruptible(con, sql, timeout))


def _interruptible(con: duckdb.DuckDBPyConnection, sql: str, timeout: float | None) -> pa.Table:
    """The query's Arrow table, computed in a thread so that Ctrl-C and the time limit interrupt DuckDB
    (a signal reaches Python only between its calls, so a long join would otherwise run on). The wait is
    on an Event: a Thread.join broken by Ctrl-C can leave the thread reported as ended while it runs."""
    outcome: dict = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["table"] = con.sql(sql).to_arrow_table()
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = err
        finally:
            done.set()

    deadline = None if not timeout else time.monotonic() + timeout
    threading.Thread(target=work, name="query", daemon=True).start()
    try:
        while not done.wait(0.05):
            if deadline is not None and time.monotonic() > deadline:
                con.interrupt()
                done.wait()
                raise TrajectoryError(f"query stopped after its time limit of {timeout:g} s; pass --timeout SECONDS (0: none) for a longer one")
    except KeyboardInterrupt:
        con.interrupt()
        done.wait()
        raise
    if "error" in outcome:
        err = outcome["error"]
        if isinstance(err, duckdb.Error):
            raise TrajectoryError(f"query failed: {str(err).splitlines()[0]}") from None
        raise err
    return outcome["table"]


def _parse(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    try:
        return con.extract_statements(sql)
    except duckdb.Error as err:
        raise TrajectoryError(f"query failed: {str(err).splitlines()[0]}") from None


def run_query_command(args: argparse.Namespace) -> int:
    queries = named_queries()
    if args.list or not args.sql:
        for name, (about, _) in queries.items():
            print(f"{name:<30} {about}")
        return 0
    sql = queries[args.sql][1] if args.sql in queries else args.sql
    if args.sql not in queries and len(args.sql.split()) == 1:  # one word: meant as a query name
        raise TrajectoryError(f"unknown query {args.sql!r}; 'trajectory query --list' shows the named ones")
    if args.format == "parquet" and not args.output:
        raise TrajectoryError("--format parquet needs --output FILE")
    if args.output:
        check_output_file(Path(args.output), "--output", Path(args.db), args.force)
    frame = run_sql(Path(args.db), sql, args.analysis, say_which=True, timeout=args.timeout or None)
    if args.format == "parquet":
        frame.write_parquet(args.output)
    elif args.format == "csv":
        flat_csv(frame).write_csv(args.output or sys.stdout)
    elif args.format == "json":
        text = frame.write_json()
        Path(args.output).write_text(text) if args.output else print(text)
    else:
        with pl.Config(tbl_rows=200, tbl_cols=30, fmt_str_lengths=60, tbl_width_chars=200):
            print(without_constant_keys(frame))
    return 0


def flat_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV holds no nested values: lists and structs are written as their JSON text (``[1, 2]``)."""
    nested = [c for c, dtype in frame.schema.items() if dtype.is_nested()]
    return frame.with_columns(
        pl.Series(c, [None if v is None else json.dumps(v, default=str) for v in frame[c].to_list()], dtype=pl.Utf8) for c in nested
    )


KEY_COLUMNS = ("analysis_id", "analysis", "model")  # said once on stderr when the query sees one analysis


def without_constant_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """The table without the analysis and model columns when every row has the same one (one analysis was
    chosen, and the line above the table names it), so that the columns that differ are not cut."""
    constant = [c for c in KEY_COLUMNS if c in frame.columns and frame.height and frame[c].n_unique() == 1]
    return frame.drop(constant) if "analysis_id" in constant or "analysis" in constant else frame


def list_analyses_command(args: argparse.Namespace) -> int:
    frame = run_sql(
        Path(args.db),
        """
        SELECT name, analysis_id, model, probe_set, n_facts, tau, theta, ffn_renormalisation, dtype, n_revisions,
               n_extractive, n_grafted_pairs, first_revision, final_revision
        FROM analysis_summary ORDER BY created_at, name""",
    )
    if frame.is_empty():
        print(f"{args.db} holds no analyses yet; run 'trajectory ingest'")
        return 0
    with pl.Config(tbl_rows=500, tbl_cols=30, fmt_str_lengths=80, tbl_width_chars=220, tbl_hide_dataframe_shape=True):
        print(frame)
    return 0
