"""The DuckDB store: schema from ``sql/schema/NNN_*.sql``, views from ``sql/views/*.sql``.

Concurrency (DuckDB allows one writing process per file, and no readers in other processes while
it writes): the ingest opens the file only to write one revision, in one transaction, and closes it.
A reader (query, dashboard) that arrives during such a write retries for a few seconds and then
says the database is busy; it never sees half a revision.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from trajectory.errors import DatabaseBusyError, TrajectoryError
from trajectory.paths import SQL_DIR

REVISION_TABLES = ("accuracy", "component_scores", "roles", "circuits", "revisions")
BUSY_WAIT_S = 10.0


def schema_files() -> list[tuple[int, Path]]:
    files = []
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        match = re.match(r"(\d+)_", path.name)
        if match:
            files.append((int(match[1]), path))
    return files


SCHEMA_VERSION = max(v for v, _ in schema_files())


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET enable_progress_bar = false")  # the CLI draws its own bars; -q means quiet
            return con
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise TrajectoryError(f"cannot open {path}: {str(err).splitlines()[0]}") from None
            if time.monotonic() > deadline:
                raise DatabaseBusyError(f"database {path} is busy (another process is writing to it); try again shortly") from None
            time.sleep(0.2)


def _stored_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    return int(con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] or 0) if exists else 0


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    version = _stored_version(con)
    if version > SCHEMA_VERSION:
        raise TrajectoryError(
            f"{path} has schema version {version}, newer than this trajectory understands ({SCHEMA_VERSION}); upgrade trajectory"
        )
    return version


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema applied and the views current."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=False)
    try:
        version = _check_version(con, path)
        if version < SCHEMA_VERSION:
            con.execute("BEGIN")
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP DEFAULT current_timestamp)")
            for number, file in schema_files():
                if number > version:
                    con.execute(file.read_text())
                    con.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
            con.execute("COMMIT")
        _apply_views(con)
        yield con
    finally:
        con.close()


def _apply_views(con: duckdb.DuckDBPyConnection, temporary: bool = False) -> None:
    """Create the views of ``sql/views/``; ``temporary`` for a read-only connection, so that a store
    written by an older trajectory is read through this version's views."""
    for file in sorted((SQL_DIR / "views").glob("*.sql")):
        text = file.read_text()
        con.execute(text.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW") if temporary else text)


@contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path)
    if not path.is_file():
        raise TrajectoryError(f"no store at {path}; run 'trajectory ingest' first (or pass --db)")
    con = _connect(path, read_only=True)
    try:
        if _check_version(con, path) == 0:
            raise TrajectoryError(f"{path} is not a trajectory store")
        _apply_views(con, temporary=True)
        yield con
    finally:
        con.close()


def finished_revisions(path: Path, model: str) -> set[str]:
    if not Path(path).is_file():
        return set()
    with reader(path) as con:
        return {r[0] for r in con.execute("SELECT revision FROM revisions WHERE model = ?", [model]).fetchall()}


def write_revision(path: Path, model: str, revision: str, frames: dict[str, pl.DataFrame], shared: dict[str, pl.DataFrame]) -> None:
    """Replace one revision's rows, all in one transaction: a crash leaves all of them or none.

    ``frames`` are per-revision tables (the ``revisions`` row among them, written last); ``shared``
    are model-level tables (facts, prompts, runs) inserted where their keys are new.
    """
    with writer(path) as con:
        con.execute("BEGIN")
        try:
            for table in REVISION_TABLES:
                con.execute(f"DELETE FROM {table} WHERE model = ? AND revision = ?", [model, revision])
            for table, frame in shared.items():
                _insert_new(con, table, frame)
            for table in REVISION_TABLES:
                if table in frames and frames[table].height:
                    _insert(con, table, frames[table])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841 - read by name in the SQL below
    columns = ", ".join(frame.columns)
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow")


_KEYS = {"facts": ("fact_id",), "prompts": ("model", "fact_id"), "runs": ("run_id",)}


def _insert_new(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841
    columns = ", ".join(frame.columns)
    keys = " AND ".join(f"t.{k} = a.{k}" for k in _KEYS[table])
    con.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow a WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {keys})"
    )
