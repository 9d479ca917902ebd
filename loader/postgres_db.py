"""PostgreSQL: the same stages for teams that outgrow one SQLite file.

psycopg 3 is an optional dependency (requirements-postgres.txt). The stages
keep SQLite's :name placeholders; `text()` rewrites them to psycopg's
%(name)s using sqlparse's tokens, so a ':x' inside a string or a ::cast is
left alone.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from .errors import Busy, DatabaseUnusable, Refused

# Every run takes this transaction-scoped advisory lock first: two runners on
# one database serialise, and the lock is released by COMMIT or ROLLBACK, or
# by the server when a killed runner's connection drops.
RUN_LOCK_KEY = 7_411_913_205  # any constant shared by all runners of this pipeline

# SQLSTATE classes that mean "the database cannot be used", not "a stage is wrong"
UNUSABLE = {"08": "cannot connect", "53": "the server is out of resources (disk, memory, connections)",
            "25006": "the database is read-only", "42501": "the database user lacks a privilege",
            "57P": "the server is shutting down", "28": "the server refused the credentials",
            "3D": "the database does not exist"}


def hide_password(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also password=... params)."""
    url = re.sub(r"(://[^:/@]*):.*@(?=[^@]*$)", r"\1:***@", url)  # to the last @: it may be unescaped
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


class PostgresEngine:
    name = "postgresql"

    def __init__(self, url: str, lock_timeout: float, must_exist: bool = False):
        try:
            import psycopg
        except ImportError:
            requirements = Path(__file__).resolve().parent.parent / "requirements-postgres.txt"
            raise Refused("--db is a PostgreSQL URL but psycopg is not installed: "
                          + shlex.join([sys.executable, "-m", "pip", "install", "-r", str(requirements)])) from None
        self.Error = psycopg.Error
        self.display = hide_password(url)
        self._url, self._lock_timeout = url, lock_timeout
        self._connect()

    def _connect(self) -> None:
        import psycopg
        try:
            self.conn = psycopg.connect(self._url, autocommit=True)  # BEGIN/COMMIT are the runner's
        except psycopg.Error as exc:
            raise DatabaseUnusable(f"cannot connect to {self.display}: "
                                   f"{hide_password(str(exc)).strip()}") from None
        self.cursor = self.conn.cursor()
        # lock_timeout bounds the wait for the run lock (and any row lock)
        self.cursor.execute("select set_config('lock_timeout', %s, false)",
                            (f"{int(self._lock_timeout * 1000)}ms",))
        # Stage 05 sorts the batch by key and 08 ranks it: with the default 4 MB of sort
        # memory a million records are sorted on disk. This session's sorts get 64 MB (the
        # server's memory, not the runner's), unless the server's setting is higher.
        self.cursor.execute("select set_config('work_mem', '64MB', false) "
                            "where pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024")
        self.pid = self.conn.info.backend_pid  # run/open.postgresql.sql checks it in pg_stat_activity

    @staticmethod
    def is_missing_table(exc: Exception) -> bool:
        return "does not exist" in str(exc) and "relation" in str(exc)

    def usable_after_stop(self) -> None:
        """Ctrl-C or SIGTERM raised while a command ran (psycopg recovers by itself only from a
        KeyboardInterrupt it catches): the session may still be busy with it, and refuse even a
        rollback. Cancel the command and start a new session; the server rolls the old one back
        and frees its run lock, which the new one waits for."""
        from psycopg.pq import TransactionStatus
        if self.conn.info.transaction_status != TransactionStatus.ACTIVE:
            return
        try:
            self.conn.cancel()
        except self.Error:
            pass
        self.conn.close()
        self._connect()

    def begin(self) -> None:
        self.cursor.execute("begin")
        self.cursor.execute("select pg_advisory_xact_lock(%s)", (RUN_LOCK_KEY,))

    @staticmethod
    def while_locked(step) -> None:
        step()  # the server waits for a lock itself, up to lock_timeout

    def close(self, discard_if_created: bool = False) -> None:
        self.conn.close()

    @staticmethod
    def text(statement) -> str:
        return statement.pyformat_text

    def stream(self, statement, params: dict, size: int):
        """A query's rows, a list of at most size at a time, from a server-side cursor (inside
        the run's transaction): the server holds the rest, and COPY goes on between fetches."""
        with self.conn.cursor(name="streamed_rows") as cursor:
            cursor.execute(self.text(statement), params)
            while rows := cursor.fetchmany(size):
                yield rows

    def land(self, table: str, columns: list[str], rows) -> None:
        # COPY streams the rows in one command: far fewer round trips than INSERT
        with self.cursor.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)

    def classify(self, exc, context: str) -> Exception:
        state = getattr(exc, "sqlstate", None) or ""
        message = hide_password(str(exc)).strip()
        if state == "55P03":  # lock_not_available: the run lock was held too long
            return Busy(f"{context}: another run is in progress ({message}); "
                        "try again later or raise --lock-timeout")
        for prefix, hint in UNUSABLE.items():
            if state.startswith(prefix) or (not state and "connection" in message):
                return DatabaseUnusable(f"{context}: {message}; {hint}")
        return exc
