"""Which database a --db names: a postgresql:// URL, or else a SQLite file."""

from __future__ import annotations

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def engine_name(target: str) -> str:
    return "postgresql" if target.startswith(POSTGRES_SCHEMES) else "sqlite"


def open_database(target: str, lock_timeout: float, must_exist: bool = False):
    """must_exist: for the commands that only read (a mistyped --db should not look empty)."""
    if engine_name(target) == "postgresql":
        from .postgres_db import PostgresEngine
        return PostgresEngine(target, lock_timeout, must_exist)
    from .sqlite_db import SQLiteEngine
    return SQLiteEngine(target, lock_timeout, must_exist)
