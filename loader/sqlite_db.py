"""SQLite: opened without ever damaging what is there.

The connection is in autocommit mode: the runner issues BEGIN and COMMIT
itself, so the driver never commits behind its back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from .errors import Busy, DatabaseUnusable, Stops

SQLITE_MAGIC = b"SQLite format 3\x00"

HINTS = {
    "readonly": "the database file or its directory is read-only: check their permissions",
    "read-only": "the database file or its directory is read-only: check their permissions",
    "not a database": "the file is not a SQLite database (or is damaged)",
    "unable to open": "the database file cannot be opened: check the path and its permissions",
    "disk is full": "the disk (or the database's size limit) is full: nothing was kept",
    "disk I/O": "the disk reported an error: nothing was kept",
    "out of memory": "SQLite ran out of memory: nothing was kept",
    "malformed": "the database file is damaged: restore it from a backup",
}


class SQLiteEngine:
    name = "sqlite"
    Error = sqlite3.Error

    def __init__(self, path: str, lock_timeout: float, must_exist: bool = False):
        if sqlite3.sqlite_version_info < (3, 35):
            # the stages use UPDATE ... FROM, RETURNING and aggregate FILTER
            raise DatabaseUnusable(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed")
        self.display = path
        self.lock_timeout = lock_timeout
        _check_path(path)
        self.created = not Path(path).exists()
        if self.created and must_exist:
            raise DatabaseUnusable(f"{path} does not exist (check --db): no run has used it yet")
        try:
            # a short busy timeout; begin() retries up to lock_timeout in Python,
            # so Ctrl-C and SIGTERM are handled while waiting for another run
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=0.2)
            # WAL lets people read the database (sqlite3 shell) while a load runs.
            # (Switching a new file to WAL takes a lock: a second run starting at
            # the same moment waits for it like for any other run.)
            self.while_locked(lambda: self.conn.execute("pragma journal_mode = wal"))
            # 12 MiB of page cache (the default is 2 MiB). SQLite's sorter may use as much
            # again (stage 05 sorts the batch by key), so memory stays flat however large
            # the batch. Since the stages write in key order, 24 MiB bought no speed,
            # even into a file holding millions of records: only memory.
            self.conn.execute("pragma cache_size = -12288")
        except sqlite3.Error as exc:
            raise self.classify(exc, f"cannot open {path}") from None
        self.conn.create_function("process_is_alive", 1, _process_is_alive, deterministic=False)
        # what sql/run/functions.postgresql.sql defines on PostgreSQL, for feed definitions
        self.conn.create_function("key_text", -1, key_text, deterministic=True)
        self.cursor = self.conn.cursor()
        self.pid = os.getpid()  # run/open.sql checks it to tell a killed run from a live one

    @staticmethod
    def is_missing_table(exc: Exception) -> bool:
        return "no such table" in str(exc)

    @staticmethod
    def usable_after_stop() -> None:
        pass  # a stop is raised between SQLite's calls, never inside one: the connection is fine

    def begin(self) -> None:
        # IMMEDIATE takes the write lock now, waiting up to the lock timeout,
        # so two runs never interleave and neither deadlocks halfway through.
        self.while_locked(lambda: self.cursor.execute("begin immediate"))

    def while_locked(self, step) -> None:
        """Retry step while another connection holds the lock, up to the lock timeout."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                step()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise

    def close(self, discard_if_created: bool = False) -> None:
        """Close; a dry run on a path that held no database leaves none behind."""
        self.conn.close()
        if discard_if_created and self.created:
            for suffix in ("", "-wal", "-shm"):
                Path(self.display + suffix).unlink(missing_ok=True)

    @staticmethod
    def text(statement) -> str:
        return statement.text  # sqlite3 binds :name itself

    def stream(self, statement, params: dict, size: int):
        """A query's rows, a list of at most size at a time, read as they are used (a cursor
        of its own: the run's cursor goes on landing them meanwhile)."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(self.text(statement), params)
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()

    def land(self, table: str, columns: list[str], rows) -> None:
        placeholders = ", ".join("?" * len(columns))
        self.cursor.executemany(f"insert into {table} ({', '.join(columns)}) values ({placeholders})", rows)

    @staticmethod
    def classify(exc: sqlite3.Error, context: str) -> BaseException:
        """Turn a driver error about the database itself into the loader's error."""
        if Stops.requested is not None:  # raised inside key_text: the run was stopped, not failed
            return Stops.requested
        message = str(exc)
        if "locked" in message or "busy" in message:
            return Busy(f"{context}: another run is in progress ({message}); "
                        "try again later or raise --lock-timeout")
        for fragment, hint in HINTS.items():
            if fragment in message:
                return DatabaseUnusable(f"{context}: {message}; {hint}")
        return exc


def _check_path(name: str) -> None:
    path = Path(name)
    if name.endswith(("/", os.sep)) or path.is_dir():
        raise DatabaseUnusable(f"cannot open {name}: it is a directory; --db names a file")
    if path.exists() and not path.is_file():
        raise DatabaseUnusable(f"cannot open {name}: it is not a regular file")
    if not path.parent.is_dir():
        raise DatabaseUnusable(f"cannot open {path}: the directory {path.parent} does not exist")
    if path.exists() and path.stat().st_size > 0:
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise DatabaseUnusable(f"cannot open {path}: {exc.strerror}") from None
        if head != SQLITE_MAGIC:
            raise DatabaseUnusable(f"{path} is not a SQLite database; "
                                   "refusing to touch it (pass another --db)")


def key_text(*parts):
    """A key of several columns as text: a compact JSON array, as PostgreSQL's array_to_json
    writes it (the same escapes); of one column, the value itself; NULL if a value is NULL."""
    if any(part is None for part in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    return json.dumps([str(part) for part in parts], ensure_ascii=False, separators=(",", ":"))


def _process_is_alive(pid) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True
