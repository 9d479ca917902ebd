"""SQLite: opened without ever damaging what is there.

The connection is in autocommit mode: the runner issues BEGIN and COMMIT
itself, so the driver never commits behind its back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import urllib.parse
from pathlib import Path

from . import typed_values
from .errors import Busy, DatabaseUnusable, StageFailed, Stops

SQLITE_MAGIC = b"SQLite format 3\x00"

HINTS = {
    "readonly": "the database file or its directory is read-only: check their permissions",
    "read-only": "the database file or its directory is read-only: check their permissions",
    "not a database": "the file is not a SQLite database (or is damaged)",
    "unable to open": "the database file cannot be opened: check the path and its permissions",
    "disk is full": "disk full (or the database's size limit reached): nothing was kept",
    "disk I/O": "the disk reported an error: nothing was kept",
    "out of memory": "SQLite ran out of memory: nothing was kept",
    "malformed": "the database file is damaged: restore it from a backup",
}


class SQLiteEngine:
    name = "sqlite"
    Error = sqlite3.Error
    created_here: list["SQLiteEngine"] = []  # the engines whose file this process created

    def __init__(self, path: str, lock_timeout: float, must_exist: bool = False, read_only: bool = False,
                 warn=None):
        """read_only: open the file mode=ro (--runs, --trace): it may be read-only, in a read-only
        directory; warn(line) is told when it is read without a lock (default: on stderr)."""
        if sqlite3.sqlite_version_info < (3, 35):
            # the stages use UPDATE ... FROM, RETURNING and aggregate FILTER
            raise DatabaseUnusable(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed")
        self.display = path
        self.lock_timeout = lock_timeout
        _check_path(path)
        self.created = not Path(path).exists()
        if self.created and must_exist:
            raise DatabaseUnusable(f"{path} does not exist (check --db): no run has used it yet")
        if self.created:
            SQLiteEngine.created_here.append(self)  # discard_if_never_committed() looks at it last
        if read_only:
            self._open_read_only(path, warn or (lambda line: print(line, file=sys.stderr)))
        else:
            self._open(path)
        self.conn.create_function("process_is_alive", 2, process_is_alive, deterministic=False)
        # (one argument: the check of releases before schema version 7, for a --sql-dir copied from one)
        self.conn.create_function("process_is_alive", 1, process_is_alive, deterministic=False)
        # what sql/run/functions.postgresql.sql defines on PostgreSQL, for feed definitions: key_text,
        # and the typing helpers typed_integer, typed_decimal, typed_timestamp (docs/helpers.md)
        self.conn.create_function("key_text", -1, key_text, deterministic=True)
        typed_values.register(self.conn)
        # PostgreSQL's octet_length, which SQLite has only from 3.43 (stage 05 measures keys with it)
        self.conn.create_function("octet_length", 1, octet_length, deterministic=True)
        self.cursor = self.conn.cursor()
        self.wal = False  # (begin switches the file to WAL)
        self.pid = os.getpid()  # run/open.sql checks it to tell a killed run from a live one,
        self.process_started = process_started(self.pid)  # with when it started (pids are reused)

    def _open(self, path: str) -> None:
        try:
            # a short busy timeout; begin() retries up to lock_timeout in Python,
            # so Ctrl-C and SIGTERM are handled while waiting for another run
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=0.2)
            # 12 MiB of page cache (the default is 2 MiB). SQLite's sorter may use as much
            # again (stage 05 sorts the batch by key), so memory stays flat however large
            # the batch. Since the stages write in key order, 24 MiB bought no speed,
            # even into a file holding millions of records: only memory.
            self.conn.execute("pragma cache_size = -12288")
        except sqlite3.Error as exc:
            raise self.classify(exc, f"cannot open {path}") from None

    def _open_read_only(self, path: str, warn) -> None:
        """mode=ro: nothing is written, not even the switch to WAL. A database in WAL mode needs its
        -shm file; when there is none and its directory is read-only, SQLite cannot make one, and
        the file is read as immutable: without a lock, so a run in progress is not seen."""
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            try:
                self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0.2)
                self.while_locked(lambda: self.conn.execute("select count(*) from sqlite_master").fetchall())
            except sqlite3.OperationalError as exc:
                if not _shm_cannot_be_made(path, exc):
                    raise
                self.conn.close()
                self.conn = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None, timeout=0.2)
                self.conn.execute("select count(*) from sqlite_master").fetchall()
                unread = Path(path + "-wal")
                also = f", nor the changes still in {unread}" if unread.exists() and unread.stat().st_size else ""
                warn(f"warning: {path}: read without a lock: a run in progress is not seen{also} (its directory "
                     f"{Path(path).absolute().parent} is read-only, so SQLite cannot make the database's -shm file)")
            self.conn.execute("pragma cache_size = -12288")
        except sqlite3.Error as exc:
            raise self.classify(exc, f"cannot open {path}") from None

    def discard_if_never_committed(self) -> None:
        """Close, and remove the file (with its -wal and -shm) if this engine created it and
        nothing was ever committed to it: not by this process, not by any other. Left alone when
        another connection still has it open (its -wal or -shm outlives this one's close)."""
        if not self.created:
            return
        conn = getattr(self, "conn", None)
        try:
            if conn is not None:
                conn.close()
            if any(Path(self.display + suffix).exists() for suffix in ("-wal", "-shm", "-journal")):
                return
            path = Path(self.display)
            if _never_committed(path):
                path.unlink()
        except (OSError, sqlite3.Error):
            pass  # leave it: removing a database is never worth a doubt

    @staticmethod
    def is_missing_table(exc: Exception) -> bool:
        return "no such table" in str(exc)

    @staticmethod
    def make_usable() -> None:
        pass  # a stop is raised between SQLite's calls, never inside one: the connection is fine

    def begin(self) -> None:
        if not self.wal:
            # WAL lets people read the database (sqlite3 shell) while a load runs. Switched
            # on at the first write, not when the file is opened: switching writes the file's
            # header, and a file the loader must refuse (another program's) is left as it was.
            # (It takes a lock: a second run starting at the same moment waits for it like for
            # any other run.)
            self.while_locked(lambda: self.conn.execute("pragma journal_mode = wal"))
            self.wal = True
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

    def classify(self, exc: sqlite3.Error, context: str) -> BaseException:
        """Turn a driver error about the database itself into the loader's error."""
        if Stops.requested is not None:  # raised inside key_text: the run was stopped, not failed
            return Stops.requested
        message = str(exc)
        if message == "user-defined function raised exception":
            # (Python's sqlite3 drops what the function raised; a typing helper keeps its message:
            # a form of typed_timestamp's that is none, a mistake in the feed definition)
            cause = typed_values.last_error()
            if cause:
                return StageFailed(f"{context}: {cause}")
        if "locked" in message or "busy" in message:
            return Busy(f"{context}: another run is in progress ({message}); "
                        "try again later or raise --lock-timeout")
        if "disk I/O" in message and self._disk_is_full():  # a completely full disk says only this
            return DatabaseUnusable(f"{context}: {message}; disk full: the file system holding "
                                    f"{self.display} has no space left: nothing was kept")
        for fragment, hint in HINTS.items():
            if fragment in message:
                if fragment in ("readonly", "read-only"):
                    hint = self._read_only_hint() or hint
                return DatabaseUnusable(f"{context}: {message}; {hint}")
        return exc

    def _disk_is_full(self) -> bool:
        """Whether the file system holding the database has (next to) no space left: less than
        a page of SQLite's cache could write."""
        try:
            stats = os.statvfs(Path(self.display).absolute().parent)
        except OSError:
            return False
        return stats.f_bavail * stats.f_frsize < 64 * 1024

    def _read_only_hint(self) -> str | None:
        """Which file is read-only: the database, its -wal or -shm file (SQLite makes them with
        the database file's mode, so a run on a read-only database leaves a read-only -shm that
        outlives a chmod of the database), or the directory; None when none of them is."""
        path = Path(self.display).absolute()
        try:
            if not os.access(path, os.W_OK):
                return f"the database file {path} is read-only: check its permissions"
            for suffix in ("-wal", "-shm"):
                other = Path(f"{path}{suffix}")
                if other.exists() and not os.access(other, os.W_OK):
                    return (f"its {suffix} file {other} is read-only (a run on the database while it was read-only "
                            f"left it so; SQLite uses it beside the database): make it writable like the database "
                            f"file, e.g. chmod 644 {other}")
            if not os.access(path.parent, os.W_OK):
                return f"its directory {path.parent} is read-only: SQLite makes the -wal and -shm files there"
        except OSError:
            pass
        return None


def _shm_cannot_be_made(path: str, exc: sqlite3.Error) -> bool:
    """Whether opening path mode=ro failed because it is in WAL mode, has no -shm file, and
    its directory is read-only (SQLITE_READONLY_DIRECTORY)."""
    if getattr(exc, "sqlite_errorname", "SQLITE_READONLY_DIRECTORY") != "SQLITE_READONLY_DIRECTORY" or \
            "readonly" not in str(exc):
        return False
    try:
        with open(path, "rb") as f:
            header = f.read(20)
        wal_mode = len(header) == 20 and header[18] == 2  # the read version: 2 is WAL
        return wal_mode and not Path(path + "-shm").exists() and not os.access(Path(path).absolute().parent, os.W_OK)
    except OSError:
        return False


def _never_committed(path: Path) -> bool:
    """Whether the database file holds nothing ever committed: empty, or a header whose schema
    cookie is 0 (every commit of the loader's creates tables, which changes it)."""
    with open(path, "rb") as f:
        header = f.read(100)
    if not header:
        return True
    return header[:len(SQLITE_MAGIC)] == SQLITE_MAGIC and len(header) == 100 and \
        int.from_bytes(header[40:44], "big") == 0


def _check_path(name: str) -> None:
    try:
        _check_path_parts(name)
    except PermissionError as exc:
        closed = next((d for d in reversed(Path(name).absolute().parents) if not os.access(d, os.X_OK)), None)
        where = f": the directory {closed} may not be entered" if closed else ""
        raise DatabaseUnusable(f"cannot open {name}: {exc.strerror}{where}; check the permissions") from None


def _check_path_parts(name: str) -> None:
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


def octet_length(value):
    """The length of a value's text in UTF-8 bytes, as PostgreSQL's octet_length."""
    if value is None:
        return None
    return len(value) if isinstance(value, bytes) else len(str(value).encode("utf-8", "surrogatepass"))


def key_text(*parts):
    """A key of several columns as text: a compact JSON array, as PostgreSQL's array_to_json
    writes it (the same escapes); of one column, the value itself; NULL if a value is NULL."""
    if any(part is None for part in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    return json.dumps([str(part) for part in parts], ensure_ascii=False, separators=(",", ":"))


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


BOOT_ID = _boot_id()  # Linux: this boot's id (a process's start is counted from the boot)


def _proc_stat(pid: int) -> tuple[str, str]:
    """A process's state (R, S, Z for a zombie, …) and start (clock ticks after boot), from
    Linux's /proc/PID/stat; OSError where there is none (another system, or no such process)."""
    with open(f"/proc/{int(pid)}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()  # after "PID (command) ": the command may hold anything
    return fields[0].decode(), fields[19].decode()  # fields 3 (state) and 22 (starttime)


def process_started(pid: int) -> str | None:
    """When the process started, as "TICKS/BOOT_ID" (its start after boot, and the boot): with
    its pid, what tells it from a later process given the same pid. None without /proc (macOS)."""
    try:
        return f"{_proc_stat(pid)[1]}/{BOOT_ID}"
    except (OSError, ValueError, IndexError):
        return None


def process_is_alive(pid, started=None) -> bool:
    """Whether the process that recorded a run (its pid and process_started) still runs: not when
    the pid is gone, is a zombie (dead, not yet reaped by its parent) or is a process that started
    at another time (the pid was given again). started NULL (a run recorded before schema version
    7, or without /proc): the pid alone decides."""
    if pid is None:
        return False
    try:
        state, ticks = _proc_stat(pid)
    except (OSError, ValueError, IndexError):
        pass  # no /proc (macOS), or a process /proc hides (hidepid): ask the kernel below
    else:
        if state in ("Z", "X"):
            return False
        return started is None or started == f"{ticks}/{BOOT_ID}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    except OverflowError:
        return False  # not a pid at all
    return True
