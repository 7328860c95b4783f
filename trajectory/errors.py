"""User-facing errors: the CLI prints their message as one line and exits non-zero."""

import errno


class TrajectoryError(Exception):
    """A problem the user can fix (bad input file, unknown revision, busy database, ...).

    The message is a single line that says what is wrong and, where possible, what to do.
    """

    exit_code = 2


class DatabaseBusyError(TrajectoryError):
    """Another process holds the DuckDB file for writing."""

    exit_code = 3


class StoreWriteError(TrajectoryError):
    """A write into the store failed (a full disk, a file-size limit): the ingest stops, keeping what it stored."""

    exit_code = 1


def describe_failure(err: BaseException) -> str:
    """One line for an error no layer turned into a TrajectoryError: the OS's words and the file, DuckDB's
    first line, or the exception's, with where to look further."""
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename}" if err.filename else ""
        hint = {
            errno.ENOSPC: "; free space and re-run (finished work is kept)",
            errno.EROFS: "; pass a writable location",
            errno.EACCES: "; check the permissions",
        }.get(err.errno, "")
        return f"{err.strerror}{where}{hint}"
    text = (str(err).strip().splitlines() or [""])[0]
    if type(err).__module__.startswith(("duckdb", "_duckdb")):
        if type(err).__name__ == "PermissionException":  # a reader's external access is off (trajectory.store.db.reader)
            return f"the store asked to reach a file or the network, which a reader does not allow ({text}); a store is data: ask where it came from"
        if "No space left" in text:
            return f"disk full while writing the store ({text}); free space and re-run (finished revisions are kept)"
        if "Could not read enough bytes" in text or "Corrupt" in text or "checksum" in text:
            return f"the store is truncated or damaged ({text}); restore it from a copy or pass another --db"
        return f"the store failed: {text}"
    return f"{type(err).__name__}: {text} (unexpected; TRAJECTORY_DEBUG=1 shows the traceback)"
