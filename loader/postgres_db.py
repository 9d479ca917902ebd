"""PostgreSQL: the same stages for teams that outgrow one SQLite file.

psycopg 3 is an optional dependency (requirements-postgres.txt). The stages
keep SQLite's :name placeholders; `text()` rewrites them to psycopg's
%(name)s using sqlparse's tokens, so a ':x' inside a string or a ::cast is
left alone.
"""

from __future__ import annotations

import logging
import re
import shlex
import sys
from datetime import timezone
from pathlib import Path
from urllib.parse import unquote

from .errors import Busy, DatabaseUnusable, Refused, StageFailed

# Every run takes this transaction-scoped advisory lock first: two runners on
# one database serialise, and the lock is released by COMMIT or ROLLBACK, or
# by the server when a killed runner's connection drops.
RUN_LOCK_KEY = 7_411_913_205  # any constant shared by all runners of this pipeline

# The session was ended by the server: pg_terminate_backend (57P01), or a shutdown, which
# terminates every session the same way; or the connection was lost with no word from it.
ENDED = "the server ended the connection (terminated by an administrator, or shutting down)"
# SQLSTATE classes that mean "the database cannot be used", not "a stage is wrong" (the first
# prefix that matches wins)
UNUSABLE = {"08": "cannot connect", "53": "the server is out of resources (disk, memory, connections)",
            "25006": "the database is read-only", "42501": "the database user lacks a privilege",
            "57P01": ENDED, "57P02": "the server ended the connection (another server process crashed)",
            "57P04": "the database was dropped", "57P05": "the server ended the idle session",
            "57P": "the server is starting up or shutting down", "28": "the server refused the credentials",
            "3D": "the database does not exist"}
# The server's CONTEXT for an error during COPY ends "COPY landing, line N: <the row's text>" (or
# ", column C: <a value>"), after the lines of any trigger it was in. The row is an input
# record: it never goes into a message.
COPY_CONTEXT = re.compile(r"\s*CONTEXT:\s[\s\S]*?\bCOPY (\S+), line (\d+)\b[\s\S]*")
# libpq's complaint about a % in the URL quotes the text around it: perhaps the password
PERCENT_TOKEN = re.compile(r'invalid percent-encoded token: ".*')


def hide_password(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db (also password=... params)."""
    url = re.sub(r"(://[^:/@]*):.*@(?=[^@]*$)", r"\1:***@", url)  # to the last @: it may be unescaped
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def hide_secrets(message: str, url: str) -> str:
    """A message about the database at url with no part of url's password in it: hide_password,
    then the password itself wherever it shows (as written in the URL, and decoded), and the
    text libpq quotes when a % in the URL is not followed by two hex digits."""
    message = hide_password(message)
    secrets = re.findall(r"://[^:/@]*:(.*)@(?=[^@]*$)", url) + re.findall(r"password=([^&\s]*)", url)
    forms = {form for raw in secrets for form in (raw, unquote(raw)) if len(form) >= 3}
    for secret in sorted(forms, key=len, reverse=True):  # the longest first: one may hold another
        message = message.replace(secret, "***")
    if secrets:
        message = PERCENT_TOKEN.sub("invalid percent-encoded token in the URL (a literal % is written %25; "
                                    "the text around it is not shown: it may be the password)", message)
    return message


def without_row_text(message: str, position: tuple | None = None) -> str:
    """The server's message with the CONTEXT of an error during COPY (which quotes the row being
    copied, an input record) replaced by where that record is: position, (file, line), as
    land() found it; else only the COPY's line."""
    def where(match: re.Match) -> str:
        if position:
            source = "standard input" if position[0] == "-" else position[0]
            return f" (while landing line {position[1]} of {source})"
        return f" (while copying line {match.group(2)} of a batch into {match.group(1)})"
    return COPY_CONTEXT.sub(where, message)


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
        # psycopg logs what it ignores while ending a COPY the server broke off ("error ignored
        # terminating <psycopg.Copy>"): with no handler, Python would print it on stderr, beside
        # the runner's own message about the same error
        logging.getLogger("psycopg").addHandler(logging.NullHandler())
        self.display = hide_password(url)
        self._url, self._lock_timeout = url, lock_timeout
        self._connect()

    def _connect(self) -> None:
        import psycopg
        try:
            self._session()
        except psycopg.Error as exc:  # (also a session the server ends while it is set up)
            raise DatabaseUnusable(f"cannot connect to {self.display}: "
                                   f"{hide_secrets(str(exc), self._url).strip()}") from None

    def _session(self) -> None:
        import psycopg
        self.conn = psycopg.connect(self._url, autocommit=True)  # BEGIN/COMMIT are the runner's
        self.cursor = self.conn.cursor()
        # lock_timeout bounds the wait for the run lock (and any row lock)
        self.cursor.execute("select set_config('lock_timeout', %s, false)",
                            (f"{int(self._lock_timeout * 1000)}ms",))
        # Stage 05 sorts the batch by key and 08 ranks it: with the default 4 MB of sort
        # memory a million records are sorted on disk. This session's sorts get 64 MB (the
        # server's memory, not the runner's), unless the server's setting is higher.
        self.cursor.execute("select set_config('work_mem', '64MB', false) "
                            "where pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024")
        # JIT compiles a plan whose estimated cost is high, and the stages' temp tables have no
        # statistics: the planner guesses thousands of rows for a batch of one, and the version
        # history's statements spent seconds compiling what ran in milliseconds (notes.md)
        self.cursor.execute("select set_config('jit', 'off', false)")
        self.pid = self.conn.info.backend_pid  # run/open.postgresql.sql checks it in pg_stat_activity,
        # with the backend's start (a later session may be given the same pid): UTC, ISO 8601
        started = self.cursor.execute("select backend_start from pg_stat_activity where pid = pg_backend_pid()"
                                      ).fetchone()
        self.process_started = started[0].astimezone(timezone.utc).isoformat() if started and started[0] else None

    @staticmethod
    def is_missing_table(exc: Exception) -> bool:
        return "does not exist" in str(exc) and "relation" in str(exc)

    def make_usable(self) -> None:
        """After a stop or an error. Ctrl-C or SIGTERM raised while a command ran (psycopg
        recovers by itself only from a KeyboardInterrupt it catches): the session may still be
        busy with it, and refuse even a rollback; or the server ended the session (terminated,
        restarted). Cancel what runs and start a new session: the server rolls the old one back
        (or finishes a COMMIT already under way) and frees its run lock, which the new one
        waits for before it reads what was kept."""
        from psycopg.pq import TransactionStatus
        status = self.conn.info.transaction_status
        if not self.conn.closed and status not in (TransactionStatus.ACTIVE, TransactionStatus.UNKNOWN):
            return
        try:
            if not self.conn.closed:
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
        # COPY streams the rows in one command: far fewer round trips than INSERT. Landing's
        # rows (a batch: 10,000) are kept until it ends: an error names the file and line of
        # the row the server was at ("COPY landing, line N" counts this COPY's rows)
        place = (columns.index("_source"), columns.index("_line_no")) \
            if {"_source", "_line_no"} <= set(columns) else None
        if place:
            rows = list(rows)
        try:
            with self.cursor.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
        except self.Error as exc:
            match = COPY_CONTEXT.search(str(exc))
            if place and match and 0 < int(match.group(2)) <= len(rows):
                row = rows[int(match.group(2)) - 1]
                exc.landing_position = (row[place[0]], row[place[1]])
            raise

    def classify(self, exc, context: str) -> Exception:
        state = getattr(exc, "sqlstate", None) or ""
        message = without_row_text(hide_secrets(str(exc), self._url).strip(),
                                   getattr(exc, "landing_position", None))
        if state == "55P03":  # lock_not_available: the run lock was held too long
            return Busy(f"{context}: another run is in progress ({message}); "
                        "try again later or raise --lock-timeout")
        if not state and (self.conn.broken or "server closed the connection" in message):
            # lost with no word from the server (libpq's next lines guess at "abnormally": a
            # terminated session looks the same)
            return DatabaseUnusable(f"{context}: {message.splitlines()[0]}; {ENDED}")
        for prefix, hint in UNUSABLE.items():
            if state.startswith(prefix) or (not state and "connection" in message):
                return DatabaseUnusable(f"{context}: {message}; {hint}")
        if COPY_CONTEXT.search(str(exc)):  # an error in COPY: told without the row's text
            return StageFailed(f"{context}: {message}")
        return exc
