"""Which database a --db names: a postgresql:// URL, or else a SQLite file."""

from __future__ import annotations

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def engine_name(target: str) -> str:
    return "postgresql" if target.startswith(POSTGRES_SCHEMES) else "sqlite"


def open_database(target: str, lock_timeout: float, must_exist: bool = False, read_only: bool = False,
                  warn=None):
    """must_exist: for the commands that only read (a mistyped --db should not look empty).
    read_only: for the commands that only read (--runs, --trace): a SQLite file is opened
    mode=ro, so a read-only file or directory can be read; warn(line) tells of a read
    without a lock (the default prints it on stderr). PostgreSQL ignores both."""
    if engine_name(target) == "postgresql":
        from .postgres_db import PostgresEngine
        return PostgresEngine(target, lock_timeout, must_exist)
    from .sqlite_db import SQLiteEngine
    return SQLiteEngine(target, lock_timeout, must_exist, read_only=read_only, warn=warn)


def discard_uncommitted() -> None:
    """Remove each SQLite file this process created and nothing was ever committed to (with its
    -wal and -shm): a command that fails before its first commit leaves no new, empty database
    behind. runner.py's main calls it last, whatever happened."""
    from .sqlite_db import SQLiteEngine
    for engine in SQLiteEngine.created_here:
        engine.discard_if_never_committed()
