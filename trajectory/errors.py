"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class TrajectoryError(Exception):
    """A problem the user can fix (bad input file, unknown revision, busy database, ...).

    The message is a single line that says what is wrong and, where possible, what to do.
    """

    exit_code = 2


class DatabaseBusyError(TrajectoryError):
    """Another process holds the DuckDB file for writing."""

    exit_code = 3
