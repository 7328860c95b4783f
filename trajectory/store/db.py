"""The DuckDB store: schema from ``sql/schema/NNN_*.sql``, views from ``sql/views/*.sql``.

Concurrency (DuckDB allows one writing process per file, and no readers in other processes while
it writes): the ingest opens the file only to write one revision, in one transaction, and closes it.
A reader (query, dashboard) that arrives during such a write retries for a few seconds and then
says the database is busy; it never sees half a revision. Two ingests into one store do not run at
once: the second says the store is busy (:func:`ingest_lock`).

A store holds many analyses (``trajectory.store.analyses``). A reader can be scoped to some of them
(:func:`scope`): every table and view it reads then holds those analyses' rows only.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from trajectory.errors import DatabaseBusyError, StoreWriteError, TrajectoryError
from trajectory.paths import SQL_DIR

# An analysis's intervals and tests, replaced whole at the end of an ingest (trajectory.pipeline.intervals).
INTERVAL_TABLES = ("intervals", "comparisons", "template_roles", "role_tests")
# Tables that hold more than one stage or pair per (analysis, revision): a write replaces only the rows of
# the stages (pairs) its frame holds.
_PARTLY_REPLACED = {"stage_runs": "stage", "grafts": "donor_revision"}
# Tables a scoped reader filters to its analyses, besides every table with an analysis_id column (each stage's,
# found in the schema: trajectory.pipeline.stages names them), with the filter.
_OF_PROBE_SETS = "probe_set_id IN (SELECT probe_set_id FROM {db}.main.analyses WHERE analysis_id IN ({ids}))"
_SCOPED = {
    "probe_sets": _OF_PROBE_SETS,
    "facts": _OF_PROBE_SETS,
    "fact_frequency": "(probe_set_id, model) IN (SELECT (probe_set_id, model) FROM {db}.main.analyses WHERE analysis_id IN ({ids}))",
    "prompts": "(probe_set_id, model) IN (SELECT (probe_set_id, model) FROM {db}.main.analyses WHERE analysis_id IN ({ids}))",
}
BUSY_WAIT_S = 10.0


def schema_files() -> list[tuple[int, Path]]:
    files = []
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        match = re.match(r"(\d+)_", path.name)
        if match:
            files.append((int(match[1]), path))
    return files


SCHEMA_VERSION = max(v for v, _ in schema_files())


# No extension is ever installed or loaded behind the user's back: a store path never causes network access.
_NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the store. A reader that finds a writer waits up to BUSY_WAIT_S, then says the store is busy; a
    writer (the ingest) waits for readers as long as they stay, saying so once, so that it loses nothing."""
    if path.is_dir():
        raise TrajectoryError(f"{path} is a directory, not a store; pass --db a .duckdb file")
    if str(path) == ":memory:":
        raise TrajectoryError("--db :memory: would keep nothing (DuckDB's in-memory database); pass --db a .duckdb file")
    if path.exists() and not path.is_file():  # a pipe or a device: opening it would block or read nonsense
        raise TrajectoryError(f"{path} is not a regular file (a pipe or a device?); pass --db a .duckdb file")
    if not read_only:
        check_writable(path)
    deadline = time.monotonic() + BUSY_WAIT_S
    said = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=_NO_EXTENSIONS)
            con.execute("SET enable_progress_bar = false")  # the CLI draws its own bars; -q means quiet
            return con
        except duckdb.Error as err:
            message = str(err).splitlines()[0]
            if not _held_by_another(err):
                raise TrajectoryError(_open_failure(path, message)) from None
            if not read_only:
                if not said:
                    holder = re.search(r"PID (\d+)", str(err))
                    print(
                        f"waiting for {path}: another process{f' (pid {holder[1]})' if holder else ''} has it open; "
                        "the ingest goes on when it closes (Ctrl-C stops)",
                        file=sys.stderr,
                        flush=True,
                    )
                    said = True
            elif time.monotonic() > deadline:
                raise DatabaseBusyError(f"database {path} is busy (another process is writing to it); try again shortly") from None
            time.sleep(0.2)


def _held_by_another(err: duckdb.Error) -> bool:
    """Whether DuckDB refused the file because another process holds its lock: an IOException saying so (DuckDB
    has no type of its own for it). A damaged block ("... in block at location ...") is not contention."""
    return isinstance(err, duckdb.IOException) and "Could not set lock on file" in str(err)


def _open_failure(path: Path, message: str) -> str:
    """One line for a file DuckDB cannot open as a database."""
    if "extension" in message.lower():  # DuckDB recognised another format (SQLite, ...) and would load a reader for it
        return f"{path} is not a DuckDB file (another database format); pass --db a trajectory store or a new file name"
    if "not a valid DuckDB database" in message or "Invalid Input Error" in message or "Serialization" in message:
        return f"{path} is not a DuckDB file; pass --db a trajectory store or a new file name"
    if "Could not read enough bytes" in message or "Corrupt" in message or "checksum" in message.lower():
        return f"{path} is truncated or damaged ({message}); restore it from a copy or pass another --db"
    return f"cannot open {path}: {message}"


def check_output_file(path: Path, flag: str, db: Path, force: bool = False) -> None:
    """An output file a command is about to write: not a folder, not the store (nor its WAL or lock file), not a
    file that exists already (someone's: replaced only with ``force``), and in a writable folder; else one line
    naming ``flag``."""
    path = Path(path)
    if path.is_dir():
        raise TrajectoryError(f"{flag} {path} is a folder; name a file to write")
    store = Path(db).resolve()
    if path.resolve() in (store, Path(f"{store}.wal"), Path(f"{store}.ingest.lock")):
        raise TrajectoryError(f"{flag} {path} is the store itself (--db); name another file")
    if (path.exists() or path.is_symlink()) and not force:
        raise TrajectoryError(f"{flag} {path} exists; pass --force to replace it, or name another file")
    if not path.resolve().parent.is_dir():
        raise TrajectoryError(f"{flag} {path}: the folder {path.resolve().parent} does not exist; create it or name another file")
    check_writable(path.resolve().parent, flag)


def check_writable(path: Path, flag: str = "--db") -> None:
    """Refuse a read-only store (or any output ``flag`` names) or folder by its permission bits (as root, the
    OS alone would not), or on a read-only filesystem."""
    target = path
    while not target.exists():
        target = target.parent
    mode = target.stat().st_mode
    if not (mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) or not os.access(target, os.W_OK) or _read_only_mount(target):
        what = "store" if target == path and flag == "--db" else "folder"
        raise TrajectoryError(f"{target} is read-only; make the {what} writable or pass another {flag}")


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _stored_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'").fetchall()[0][0]
    return int(con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] or 0) if exists else 0


def _check_version(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    version = _stored_version(con)
    if version > SCHEMA_VERSION:
        raise TrajectoryError(f"{path} has schema version {version}, newer than this trajectory understands ({SCHEMA_VERSION}); upgrade trajectory")
    if version == 0 and con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'").fetchall()[0][0]:
        raise TrajectoryError(f"{path} is a DuckDB database but not a trajectory store; pass another --db")
    return version


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection with the schema applied and the views current.

    An older store is migrated to the current schema version in one transaction: a failure leaves it as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=False)
    try:
        version = _check_version(con, path)
        if version < SCHEMA_VERSION:
            with transaction(con):
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP DEFAULT current_timestamp)")
                for number, file in schema_files():
                    if number > version:
                        con.execute(file.read_text())
                        con.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
        _refresh_views(con)
        yield con
    finally:
        con.close()


@contextmanager
def memory_store() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory store with the current schema (no views): the stored column types for rows
    computed but not yet written."""
    con = duckdb.connect(config=_NO_EXTENSIONS)
    try:
        for _, file in schema_files():
            con.execute(file.read_text())
        yield con
    finally:
        con.close()


def check_store(path: Path) -> None:
    """Fail now, with one line, if ``path`` cannot be written as a store; create nothing. An existing
    store is opened (and migrated) as a writer would."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        with writer(path):
            pass
    elif path.is_dir():
        _connect(path, read_only=False)
    else:
        check_writable(path)


def _refresh_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create the views unless this version's are already there (an ingest opens the store three times
    a revision; re-creating 30 views each time cost a tenth of a second)."""
    digest = hashlib.sha256("\n".join(f.read_text() for f in _view_files()).encode()).hexdigest()
    if con.execute("SELECT hash FROM applied_views").fetchall() == [(digest,)]:
        return
    with transaction(con):
        _apply_views(con)
        con.execute("DELETE FROM applied_views")
        con.execute("INSERT INTO applied_views VALUES (?)", [digest])


def _view_files() -> list[Path]:
    return sorted((SQL_DIR / "views").glob("*.sql"))


def _apply_views(con: duckdb.DuckDBPyConnection, temporary: bool = False) -> None:
    """Create the views of ``sql/views/``; ``temporary`` for a read-only connection, so that a store
    written by an older trajectory is read through this version's views."""
    for file in _view_files():
        text = file.read_text()
        if temporary:
            text = text.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW").replace(
                "CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO"
            )
        con.execute(text)


@contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection through this version's views. A version-1 store is read after migrating it
    (which needs write access once); :func:`scope` narrows it to some analyses."""
    path = Path(path)
    if not path.exists():
        raise TrajectoryError(f"no store at {path}; run 'trajectory ingest' first (or pass --db)")
    con = _connect(path, read_only=True)
    try:
        version = _check_version(con, path)
        if version == 0:
            raise TrajectoryError(f"{path} is not a trajectory store")
        if version < SCHEMA_VERSION:
            con.close()
            with writer(path):
                pass  # migrate, then read the migrated store
            con = _connect(path, read_only=True)
        _apply_views(con, temporary=True)
        # A store is data, shared between researchers: nothing in it (a view calling read_text, a macro) may reach
        # a file or the network on the reader's machine. Every reader writes its outputs from Python.
        lock_down(con)
        yield con
    finally:
        con.close()


def scope(con: duckdb.DuckDBPyConnection, analysis_ids: list[str]) -> None:
    """Narrow a reader to the given analyses: temporary views named like the tables (which DuckDB
    resolves before the stored ones) hold only their rows, and the views are rebuilt over them."""
    name = con.sql("SELECT current_database()").fetchall()[0][0]
    database = name.replace('"', '""')
    ids = ", ".join("'" + a.replace("'", "''") + "'" for a in analysis_ids) or "NULL"
    keyed = con.execute(
        """SELECT DISTINCT c.table_name FROM information_schema.columns c
                           JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
                           WHERE c.table_catalog = ? AND c.table_schema = 'main' AND c.column_name = 'analysis_id'
                             AND t.table_type = 'BASE TABLE' ORDER BY 1""",
        [name],
    ).fetchall()
    for table, condition in {**{name: "analysis_id IN ({ids})" for (name,) in keyed}, **_SCOPED}.items():
        where = condition.format(ids=ids, db=f'"{database}"')
        con.execute(f'CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM "{database}".main.{table} WHERE {where}')
    _apply_views(con, temporary=True)


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file access beyond the store from here on (no ATTACH, COPY, read_csv ...): for user SQL."""
    con.execute("SET enable_external_access = false")


def finished_pairs(path: Path, analysis_ids: list[str], stage: str) -> dict[str, dict[str, str | None]]:
    """analysis_id -> revision -> the revision a pair stage's stored run took as the next one (None: there was none)."""
    done: dict[str, dict[str, str | None]] = {a: {} for a in analysis_ids}
    if not Path(path).is_file():
        return done
    with reader(path) as con:
        rows = con.execute(
            "SELECT analysis_id, revision, to_revision FROM stage_runs WHERE list_contains(?, analysis_id) AND stage = ?", [analysis_ids, stage]
        ).fetchall()
    for analysis_id, revision, to_revision in rows:
        done[analysis_id][revision] = to_revision
    return done


def forget_pairs(path: Path, stage: str, tables: tuple[str, ...], pairs: list[tuple[str, str, str]]) -> None:
    """Remove the rows a pair stage stored for (analysis_id, revision, next revision) pairs that are no longer consecutive,
    from its tables keyed by the next revision (``grafts.donor_revision``), unless that pair was also asked for by name
    (a ``<stage>:<next>`` run); the stage's own tables keyed by revision alone are replaced when it runs again."""
    keyed = [(table, _PARTLY_REPLACED[table]) for table in tables if table in _PARTLY_REPLACED and table != "stage_runs"]
    if not pairs or not keyed:
        return
    with writer(path) as con, transaction(con):
        for analysis_id, revision, successor in pairs:
            named = con.execute(
                "SELECT count(*) FROM stage_runs WHERE analysis_id = ? AND revision = ? AND stage = ?",
                [analysis_id, revision, f"{stage}:{successor}"],
            ).fetchone()[0]
            if not named:
                for table, column in keyed:
                    con.execute(f"DELETE FROM {table} WHERE analysis_id = ? AND revision = ? AND {column} = ?", [analysis_id, revision, successor])


def finished_revisions(path: Path, analysis_ids: list[str], stage: str = "ifr") -> dict[str, set[str]]:
    """analysis_id -> revisions whose ``stage`` (``ifr``: the revisions table; others: stage_runs) is stored."""
    done: dict[str, set[str]] = {a: set() for a in analysis_ids}
    if not Path(path).is_file():
        return done
    with reader(path) as con:
        if stage == "ifr":
            sql, params = "SELECT analysis_id, revision FROM revisions WHERE list_contains(?, analysis_id)", [analysis_ids]
        else:
            sql, params = "SELECT analysis_id, revision FROM stage_runs WHERE list_contains(?, analysis_id) AND stage = ?", [analysis_ids, stage]
        rows = con.execute(sql, params).fetchall()
    for analysis_id, revision in rows:
        done[analysis_id].add(revision)
    return done


def write_revision(
    path: Path, revision: str, frames: dict[str, dict[str, pl.DataFrame]], shared: dict[str, pl.DataFrame], tables: tuple[str, ...]
) -> None:
    """Replace one revision's rows of ``tables`` (one stage's) for every analysis in ``frames``, all in one
    transaction: a crash leaves all of them or none, and no other analysis or stage is touched.

    ``frames``: analysis_id -> per-revision tables (each with its analysis_id column; the stage's mark,
    ``revisions`` or ``stage_runs``, is last in ``tables``); ``shared``: model-level tables (prompts,
    runs) inserted where their keys are new.
    """
    try:
        _write_revision(path, revision, frames, shared, tables)
    except (duckdb.Error, OSError) as err:
        text = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise StoreWriteError(
            f"cannot write {revision} into {path} ({text}); nothing of it was stored, the revisions "
            "before it are kept: free space (or fix the store) and re-run"
        ) from None


def _write_revision(
    path: Path, revision: str, frames: dict[str, dict[str, pl.DataFrame]], shared: dict[str, pl.DataFrame], tables: tuple[str, ...]
) -> None:
    with writer(path) as con, transaction(con):
        for analysis_id, by_table in frames.items():
            for table in tables:
                where, params = "analysis_id = ? AND revision = ?", [analysis_id, revision]
                if table in _PARTLY_REPLACED:
                    if table not in by_table:
                        continue
                    column = _PARTLY_REPLACED[table]
                    where, params = where + f" AND list_contains(?, {column})", params + [by_table[table][column].unique().to_list()]
                con.execute(f"DELETE FROM {table} WHERE {where}", params)
        for table, frame in shared.items():
            _insert_new(con, table, frame)
        for by_table in frames.values():
            for table in tables:
                if table in by_table and by_table[table].height:
                    insert_frame(con, table, by_table[table])


def replace_intervals(path: Path, analysis_id: str, frames: dict[str, pl.DataFrame]) -> None:
    """An analysis's rows of the interval tables replaced by ``frames`` (table -> rows), in one transaction."""
    with writer(path) as con, transaction(con):
        for table in INTERVAL_TABLES:
            con.execute(f"DELETE FROM {table} WHERE analysis_id = ?", [analysis_id])
            if table in frames and frames[table].height:
                insert_frame(con, table, frames[table])


def replace_frequency(path: Path, frame: pl.DataFrame) -> None:
    """The fact_frequency rows of the frame's (probe set, model), replaced in one transaction."""
    with writer(path) as con, transaction(con):
        for probe_set_id, model in frame.select("probe_set_id", "model").unique().iter_rows():
            con.execute("DELETE FROM fact_frequency WHERE probe_set_id = ? AND model = ?", [probe_set_id, model])
        insert_frame(con, "fact_frequency", frame)


def replace_training_loss(path: Path, frame: pl.DataFrame) -> None:
    """The training_loss rows of the frame's models, replaced in one transaction."""
    with writer(path) as con, transaction(con):
        for (model,) in frame.select("model").unique().iter_rows():
            con.execute("DELETE FROM training_loss WHERE model = ?", [model])
        insert_frame(con, "training_loss", frame)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All statements of the block or none of them."""
    con.execute("BEGIN")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841 - read by name in the SQL below
    columns = ", ".join(frame.columns)
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow")


_KEYS = {"prompts": ("probe_set_id", "model", "fact_id"), "runs": ("run_id", "analysis_id")}


def _insert_new(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841
    columns = ", ".join(frame.columns)
    keys = " AND ".join(f"t.{k} = a.{k}" for k in _KEYS[table])
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM arrow a WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {keys})")


@contextmanager
def ingest_lock(path: Path) -> Iterator[None]:
    """Hold ``<store>.ingest.lock`` for a whole ingest: a second ingest into the same store says it is
    busy instead of doing the same revisions again. The kernel drops the lock if the process dies; the
    file is removed when the ingest ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".ingest.lock")
    while True:
        handle = open(lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DatabaseBusyError(f"{path} is busy: an ingest ({holder}) is writing to it; wait for it to finish or pass another --db") from None
        # The file we locked may have been removed by the ingest that just ended: then lock the new one.
        if lock_path.exists() and os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # while still holding the lock, so no other ingest holds this file
        handle.close()
