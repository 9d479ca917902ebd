"""What every command shares: one database, the plan's statements, the transactions that run
them, the schema they need, and what the database says happened when a run is stopped.

Each command has a module of its own (load.py for loads and replays, prune.py, repair.py,
upgrade.py, reads.py); this is the machinery under them.
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

from . import foreign_tables, test_stop, version_history
from .errors import DatabaseUnusable, LoaderError, Refused, StageFailed
from .invocation import RUNNER, Invocation
from .plan import Plan
from .progress import Progress
from .sql_files import Statement


class Session:
    def __init__(self, db, plan: Plan, now: str, invocation: Invocation, progress: Progress | None = None):
        self.db = db
        self.plan = plan
        self.invocation = invocation
        self.progress = progress or Progress()
        self.params = {"run_id": None, "now": now, "source": None, "watermark": None,
                       "lookback_seconds": 0, "kind": "load", "format": None,
                       "header": None, "host": socket.gethostname(), "pid": db.pid, "error": None,
                       "process_started": db.process_started,
                       "key": None, "only_feed": None, "schema_version": None, "description": None,
                       "prune_before": None, "openlineage_run_id": None,
                       "runner": RUNNER, "runner_options": invocation.options(), "command_note": invocation.note,
                       **plan.feed.params}
        self.timings: dict[str, float] = {}  # stage file -> seconds, for the summary
        self.dry_run = False
        # set once a COMMIT was sent: a stop before it cannot have kept anything; one during
        # or after it is settled by what the database says (each command's settle)
        self.commit_started = False
        self.foreign_checked = False

    def say(self, message: str) -> None:
        self.invocation.say(message)

    # -- statements -----------------------------------------------------------

    def query(self, hook: str, **params) -> list[dict]:
        """A hook's last statement's rows, as dicts keyed by column name: fetched whole, as every
        hook's are small (a summary; a key's history, a row per run that saw it; the run history,
        a row per run: a year of daily runs is 365; counts by step, file or rule). The open
        dead letters, which need not be, are streamed (load.Load.replay_dead_letters)."""
        rows = self.execute_all(self.plan.hooks[hook], params)
        names = [d[0] for d in self.db.cursor.description] if self.db.cursor.description else []
        return [dict(zip(names, row)) for row in rows]

    def read_only_query(self, hook: str, **params) -> list[dict]:
        """A query outside any transaction: it takes no lock, so it never waits for a running
        load, and changes nothing. A database no run has used yet has nothing to show."""
        try:
            return self.query(hook, **params)
        except StageFailed as exc:
            if self.db.is_missing_table(exc):
                return []
            raise

    def execute_all(self, statements: list[Statement], extra: dict | None = None) -> list:
        rows: list = []
        for statement in statements:
            cursor = self._execute(statement, extra)
            rows = cursor.fetchall() if cursor.description else []
            if statement.created_view:
                self._compile_view(statement)
        return rows  # the last statement's rows: a hook's result

    def _execute(self, statement: Statement, extra: dict | None = None):
        try:
            return self.db.cursor.execute(self.db.text(statement), {**self.params, **(extra or {})})
        except self.db.Error as exc:
            raise self.failure(statement, exc) from None

    def failure(self, statement: Statement, exc: Exception) -> BaseException:
        """The error to show for a statement that failed: its file and line, its first line and
        the database's own words (or what is wrong with the database itself)."""
        problem = self.db.classify(exc, statement.where)
        if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
            return problem
        return StageFailed(f"{statement.where}: {str(exc).strip()}\n  in: {statement.first_line}")

    def _compile_view(self, statement: Statement) -> None:
        """SQLite compiles a view only when it is first read: read it where it is created, so that
        a mistake in it (a misspelt column or function) names the file that defines it, not the
        stage that happens to read it first."""
        try:
            self.db.cursor.execute(f"select * from {statement.created_view} where 1 = 0").fetchall()
        except self.db.Error as exc:
            raise self.failure(statement, exc) from None

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def transaction(self, keep: bool = True):
        """One transaction, committed (keep) or rolled back (a dry run) at its end; rolled back
        on any error."""
        self.begin()
        try:
            yield
            if keep:
                self.commit()
            else:
                self.rollback()
        except BaseException:
            self.rollback()
            raise

    def begin(self) -> None:
        self.commit_started = False
        if not self.foreign_checked:  # before anything is written, even the switch to WAL
            self.foreign_checked = True
            version = self.schema_version()
            if version is None or version == 1:  # never write into another program's tables
                foreign_tables.refuse(self, version)
        try:
            self.db.begin()
        except self.db.Error as exc:
            raise self._classified(exc, "cannot start the run") from None

    def commit(self) -> None:
        """COMMIT, its errors told like any statement's (a full disk is exit 3, not a bug)."""
        self.commit_started = True
        test_stop.at("before-commit")
        try:
            self.db.cursor.execute("commit")
        except self.db.Error as exc:
            raise self._classified(exc, "commit") from None
        test_stop.at("after-commit")

    def rollback(self) -> None:
        # rollback fails harmlessly if the error already ended the transaction
        try:
            self.db.cursor.execute("rollback")
        except self.db.Error:
            pass

    def _classified(self, exc: Exception, context: str) -> BaseException:
        problem = self.db.classify(exc, context)
        if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
            return problem
        return StageFailed(f"{context}: {str(exc).strip()}")

    def after_stop(self, exc: BaseException) -> None:
        """Make the connection usable again after a stop, or any error, and end whatever
        transaction it left open. What was committed is then read back under the run lock
        (each command's settle), which on PostgreSQL waits for a COMMIT still in flight."""
        try:
            self.db.make_usable()
        except LoaderError:
            return  # (no connection: what follows says the run could not be marked)
        self.rollback()

    @contextmanager
    def timed(self, step: str):
        started = time.perf_counter()
        yield
        self.timings[step] = round(time.perf_counter() - started, 4)

    # -- the schema -----------------------------------------------------------

    def prepare_schema(self, with_target: bool = True) -> None:
        """Holding the run lock: create the schema, or upgrade an earlier release's in place
        (sql/upgrade/, oldest first), then run the schema stage and the feed's target
        section, which are idempotent."""
        version, current = self.schema_version(), self.plan.schema_version
        self._refuse_newer(version)
        pending = [u for u in self.plan.upgrades if version is not None and u[0] > version]
        if pending:
            self.say(f"upgrading {self.db.display} from schema version {version} to {current} "
                     f"({', '.join(path.name for _, path, _ in pending)}); "
                     + ("a dry run: rolled back with the rest" if self.dry_run else "other runs wait for it"))
        for _, path, statements in pending:
            with self.timed(f"upgrade/{path.name}"):
                self.execute_all(statements)
        self.execute_all(self.plan.hooks["lineage_layout"])  # tables the schema stage's views read
        self.execute_all(self.plan.hooks["received_version"])  # (and another whose definition differs by engine)
        self.execute_all(self.plan.schema)
        # the functions feed definitions call, before the target section, which may call them too
        self.execute_all(self.plan.hooks["functions"])
        if with_target:  # (and a feed's version history, started or checked: version_history.py)
            version_history.prepare(self, lambda: self.execute_all(self.plan.feed.sections["target"]))
        if version != current:
            self.execute_all(self.plan.hooks["record_schema_version"], {
                "schema_version": current,
                "description": f"created by the loader at version {current}" if version is None else
                f"upgraded from version {version} by {', '.join(path.name for _, path, _ in pending)}"})

    def schema_version(self) -> int | None:
        """None for a database no run has used; 1 for one written before versions were recorded.
        A schema_version table that is not the loader's (another program's) is refused."""
        tables = {row[0] for row in self.execute_all(self.plan.hooks["schema_tables"])}
        if "schema_version" in tables:
            foreign_tables.refuse_foreign_schema_version(self)
            version = self.execute_all(self.plan.hooks["schema_version"])[0][0]
            if not isinstance(version, int):
                raise foreign_tables.not_the_loaders(self, f"schema_version (its version is {version!r}, "
                                                           "not a number)")
            return version
        return 1 if "run_log" in tables else None

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > self.plan.schema_version:
            raise Refused(f"{self.db.display} was written by a newer release of the loader (schema version "
                          f"{version}; this one knows up to {self.plan.schema_version}): use that release")

    def check_readable(self, command: str) -> None:
        """The reading commands read a database of this release's schema (or none yet); they
        never upgrade one, so an older one is reported with the command that upgrades it."""
        version = self.schema_version()
        if version is not None and version < self.plan.schema_version:
            raise Refused(f"{self.db.display} was written by an earlier release of the loader (schema "
                          f"version {version}; this one reads {self.plan.schema_version}). {command} "
                          f"works on it once it is upgraded in place, history kept: "
                          f"{self.invocation.command(['--upgrade'])} (the next load upgrades it too)")
        self._refuse_newer(version)

    def require_history(self) -> None:
        if self.schema_version() is None:  # e.g. a mistyped --db: nothing to act on, nothing to create
            raise DatabaseUnusable(f"{self.db.display} holds no run history (check --db): no run has used it")


def stop_name(exc: BaseException) -> str:
    return "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"


def stop_code(exc: BaseException) -> int:
    return 130 if isinstance(exc, KeyboardInterrupt) else 143


class Stopped(LoaderError):
    """Ctrl-C or SIGTERM stopped a command; the message says what the database kept."""

    def __init__(self, stop: BaseException, what_happened: str):
        super().__init__(f"stopped by {stop_name(stop)}: {what_happened}")
        self.exit_code = stop_code(stop)


def is_stop(exc: BaseException) -> bool:
    return isinstance(exc, (KeyboardInterrupt, SystemExit))
