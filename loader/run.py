"""One run: open it on record, load everything in one transaction, or roll back.

    opening transaction   upgrades + schema stage + run/open.sql          -> committed
    load transaction      land input, stages 02..NN with the feed's sections -> committed, or
    on failure            ROLLBACK, then run/failed.sql                   -> committed

A dry run does both in one transaction, reads the summary, and rolls back.
"""

from __future__ import annotations

import gc
import shlex
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import landing
from .errors import DatabaseUnusable, LoaderError, Refused, StageFailed
from .inputs import Inputs
from .plan import Plan, Step
from .progress import Progress
from .sql_files import Statement

REPLAY_CHUNK = 10_000  # open dead letters read, parsed and landed at a time
RUNNER = shlex.join([sys.executable, str(Path(__file__).resolve().parent.parent / "runner.py")])


class Run:
    def __init__(self, db, plan: Plan, now: str, lookback_seconds: int = 0, progress: Progress | None = None,
                 runner_options: str = "", command_note: str = "", notify=lambda message: None, reporter=None):
        """runner_options: '--db … --feed …' for messages that suggest a command, which starts
        with RUNNER: this interpreter and this runner.py, so it works from any directory;
        command_note follows such a command to say what it leaves out (a masked password).
        reporter: an openlineage.Reporter, told of each point of the run's life, or None."""
        self.db = db
        self.plan = plan
        self.progress = progress or Progress()
        self.notify = notify  # a message for people (stderr), e.g. that the schema is being upgraded
        self.params = {"run_id": None, "now": now, "source": None, "watermark": None,
                       "lookback_seconds": lookback_seconds, "kind": "load", "format": None,
                       "header": None, "host": socket.gethostname(), "pid": db.pid, "error": None,
                       "key": None, "only_feed": None, "schema_version": None, "description": None,
                       "prune_before": None, "openlineage_run_id": None,
                       "runner": RUNNER, "runner_options": runner_options, "command_note": command_note,
                       **plan.feed.params}
        self.timings: dict[str, float] = {}  # stage file -> seconds, for the summary
        self.unused_columns: list[str] = []  # input columns the feed does not read
        self.input_files: list[str] = []  # the files a load reads, in order
        self.killed: list[dict] = []  # runs the opening found killed, to report aborted
        self.reporter = reporter
        self.dry_run = False

    # -- the commands ---------------------------------------------------------

    def load(self, inputs: Inputs, dry_run: bool = False) -> dict:
        """Run every stage on the inputs; returns the summary. A failure is recorded, then raised."""
        self.params.update(source=inputs.source, format=inputs.format, header=",".join(inputs.header))
        self.input_files = [source for source, _ in inputs.files]
        if dry_run:
            return self._dry_run(lambda: inputs)
        self._open()
        return self._load(lambda: inputs)

    def replay_dead_letters(self, dry_run: bool = False) -> dict | None:
        """The open dead letters through the current stages, as a run of its own (None: none open)."""
        self.params.update(kind="replay", source="dead_letter", format="replay", lookback_seconds=None)

        def open_dead_letters() -> Inputs:
            headers = [row[0] for row in self._execute_all(self.plan.hooks["replay_headers"])]
            (source,) = self.plan.hooks["replay_source"]
            return Inputs.from_dead_letters(headers, self.db.stream(source, self.params, REPLAY_CHUNK))

        version = self._schema_version()
        if version is not None and version < self.plan.schema_version:
            if dry_run:  # it would have to keep the upgrade to read the dead letters
                self.check_readable("--replay-dead-letters --dry-run")
            self.upgrade()
        if not self._has_open_dead_letters():
            return None
        if dry_run:
            return self._dry_run(open_dead_letters)
        self._open()
        return self._load(open_dead_letters)

    def repair_watermark(self) -> dict:
        with self._transaction():
            self._prepare_schema()
            return self.query("repair_watermark")[0]

    def prune_history(self, prune_before: str, only_feed: str | None, dry_run: bool = False,
                      vacuum: bool = False) -> dict:
        """Remove the lineage of the runs that started before prune_before (run/prune_history.sql),
        in one transaction; then make the space reusable, and with vacuum give it back to the
        file system (each outside any transaction, as the engines require)."""
        self.params.update(prune_before=prune_before, only_feed=only_feed)
        self.dry_run = dry_run
        if self._schema_version() is None:  # e.g. a mistyped --db: nothing to prune, nothing to create
            raise DatabaseUnusable(f"{self.db.display} holds no run history (check --db): no run has used it")
        with self._transaction(keep=not dry_run), self._timed("prune"):
            self._prepare_schema(with_target=False)
            size_before = self.query("database_size")[0]
            result = self.query("prune_history")[0]
            if dry_run:  # (measured inside the transaction: its changes count)
                size_after = self.query("database_size")[0]
        if not dry_run:
            with self._timed("reuse_space"):
                self._execute_all(self.plan.hooks["reuse_space"])
            if vacuum:
                with self._timed("vacuum"):
                    self.db.while_locked(lambda: self._execute_all(self.plan.hooks["vacuum"]))
            size_after = self.query("database_size")[0]
        return {"feed": only_feed, "pruned_before": prune_before, **result,
                "bytes_before": size_before["bytes"], "bytes_after": size_after["bytes"],
                "reusable_bytes_after": size_after["reusable_bytes"], "vacuumed": vacuum and not dry_run,
                "dry_run": dry_run, "timings": self.timings}

    def upgrade(self) -> dict:
        """Bring the database's schema up to date (what the next load would do first). The
        feed's table is left to the feed's next load: the database may never have had it."""
        with self._transaction():
            before = self._schema_version()
            self._prepare_schema(with_target=False)
        return {"schema_version_before": before, "schema_version": self.plan.schema_version}

    def check_readable(self, command: str) -> None:
        """The reading commands read a database of this release's schema (or none yet); they
        never upgrade one, so an older one is reported with the command that upgrades it."""
        version = self._schema_version()
        if version is not None and version < self.plan.schema_version:
            raise Refused(f"{self.db.display} was written by an earlier release of the loader (schema "
                          f"version {version}; this one reads {self.plan.schema_version}). {command} "
                          f"works on it once it is upgraded in place, history kept: {RUNNER} "
                          f"--upgrade {self.params['runner_options']}{self.params['command_note']} "
                          "(the next load upgrades it too)")
        self._refuse_newer(version)

    def query(self, hook: str, **params) -> list[dict]:
        """A hook's last statement's rows, as dicts keyed by column name: fetched whole, as every
        hook's are small (a summary; a key's history, a row per run that saw it; the run history,
        a row per run: a year of daily runs is 365; counts by step, file or rule). The open
        dead letters, which need not be, are streamed (replay_dead_letters)."""
        rows = self._execute_all(self.plan.hooks[hook], params)
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

    def current_row(self, key: str) -> tuple[dict | None, str | None]:
        """The key's row in the feed's target (its trace section), and why there is no table to
        look in, if there is none: said so, never taken for "no row"."""
        try:
            rows = self.query("trace_row", key=key)
        except StageFailed as exc:
            if self.db.is_missing_table(exc):
                return None, str(exc).splitlines()[0]
            raise
        return (rows[0] if rows else None), None

    # -- the transactions -----------------------------------------------------

    def _open(self) -> None:
        if self.reporter:
            self.params["openlineage_run_id"] = self.reporter.new_run_id()
        with self._transaction():
            self._prepare_schema()
            self.params["run_id"] = self._execute_all(self.plan.hooks["open"])[0][0]
            self.killed = self.query("interrupted_runs") if self.reporter else []

    def _prepare_schema(self, with_target: bool = True) -> None:
        """Holding the run lock: create the schema, or upgrade an earlier release's in place
        (sql/upgrade/, oldest first), then run the schema stage and the feed's target
        section, which are idempotent."""
        version, current = self._schema_version(), self.plan.schema_version
        self._refuse_newer(version)
        pending = [u for u in self.plan.upgrades if version is not None and u[0] > version]
        if pending:
            self.notify(f"upgrading {self.db.display} from schema version {version} to {current} "
                        f"({', '.join(path.name for _, path, _ in pending)}); "
                        + ("a dry run: rolled back with the rest" if self.dry_run else "other runs wait for it"))
        for _, path, statements in pending:
            with self._timed(f"upgrade/{path.name}"):
                self._execute_all(statements)
        self._execute_all(self.plan.hooks["lineage_layout"])  # tables the schema stage's views read
        self._execute_all(self.plan.schema)
        if with_target:
            self._execute_all(self.plan.feed.sections["target"])
        if version != current:
            self._execute_all(self.plan.hooks["record_schema_version"], {
                "schema_version": current,
                "description": f"created by the loader at version {current}" if version is None else
                f"upgraded from version {version} by {', '.join(path.name for _, path, _ in pending)}"})
        self._execute_all(self.plan.hooks["functions"])

    def _schema_version(self) -> int | None:
        """None for a database no run has used; 1 for one written before versions were recorded."""
        tables = {row[0] for row in self._execute_all(self.plan.hooks["schema_tables"])}
        if "schema_version" in tables:
            return self._execute_all(self.plan.hooks["schema_version"])[0][0]
        return 1 if "run_log" in tables else None

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > self.plan.schema_version:
            raise Refused(f"{self.db.display} was written by a newer release of the loader (schema version "
                          f"{version}; this one knows up to {self.plan.schema_version}): use that release")

    def _load(self, read_inputs) -> dict:
        try:
            if self.reporter:  # (in here: a stop while an event is sent is recorded like any other)
                for run in self.killed:
                    self.reporter.interrupted(self, run)
                self.reporter.started(self)
            self._begin()
            self._run_stages(read_inputs())
            with self._timed("commit"):
                self.db.cursor.execute("commit")
        except BaseException as exc:
            error = self._record_failure(exc)
            if self.reporter:
                self.reporter.failed(self, exc, error)
            raise
        summary = self._summary()
        if self.reporter:
            try:
                self.reporter.completed(self, summary)
            except (KeyboardInterrupt, SystemExit):  # the run is committed: say so, not "rolled back"
                self.notify(f"warning: stopped while reporting run {summary['run_id']} to OpenLineage; "
                            "the run was committed")
        return summary

    def _dry_run(self, read_inputs) -> dict:
        """Everything in one transaction, then rolled back: nothing is kept, not even the run."""
        self.dry_run = True
        with self._transaction(keep=False):
            self._prepare_schema()
            self.params["run_id"] = self._execute_all(self.plan.hooks["open"])[0][0]
            self._run_stages(read_inputs())
            by_step = {row["step"]: row["entries"] for row in self.query("lineage_by_step")}
            return {**self._summary(), "dry_run": True, "lineage_by_step": by_step}

    def _run_stages(self, inputs: Inputs) -> None:
        rows = self._execute_all(self.plan.hooks["read_watermark"])
        self.params["watermark"] = rows[0][0] if rows else None
        with self._timed("landing"):
            self._land(inputs)
        for step in self.plan.stages:
            self.progress.stage(step.name)
            with self._timed(step.name):
                self._execute_all(step.statements)
                self._check_refusals(step)
        self.progress.done()

    def _summary(self) -> dict:
        summary = self.query("summary")[0]
        summary["unused_columns"] = self.unused_columns
        summary["timings"] = self.timings
        return summary

    @contextmanager
    def _transaction(self, keep: bool = True):
        """One transaction, committed (keep) or rolled back (a dry run) at its end; rolled back
        on any error."""
        self._begin()
        try:
            yield
            self.db.cursor.execute("commit" if keep else "rollback")
        except BaseException:
            self._rollback()
            raise

    def _has_open_dead_letters(self) -> bool:
        return bool(self.read_only_query("has_open_dead_letters"))

    # -- the parts ------------------------------------------------------------

    def _execute(self, statement: Statement, extra: dict | None = None):
        try:
            return self.db.cursor.execute(self.db.text(statement), {**self.params, **(extra or {})})
        except self.db.Error as exc:
            raise self._failure(statement, exc) from None

    def _failure(self, statement: Statement, exc: Exception) -> LoaderError:
        """The error to show for a statement that failed: its file and line, its first line and
        the database's own words (or what is wrong with the database itself)."""
        problem = self.db.classify(exc, statement.where)
        if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
            return problem
        return StageFailed(f"{statement.where}: {str(exc).strip()}\n  in: {statement.first_line}")

    def _execute_all(self, statements: list[Statement], extra: dict | None = None) -> list:
        rows: list = []
        for statement in statements:
            cursor = self._execute(statement, extra)
            rows = cursor.fetchall() if cursor.description else []
            if statement.created_view:
                self._compile_view(statement)
        return rows  # the last statement's rows: a hook's result

    def _compile_view(self, statement: Statement) -> None:
        """SQLite compiles a view only when it is first read: read it where it is created, so that
        a mistake in it (a misspelt column or function) names the file that defines it, not the
        stage that happens to read it first."""
        try:
            self.db.cursor.execute(f"select * from {statement.created_view} where 1 = 0").fetchall()
        except self.db.Error as exc:
            raise self._failure(statement, exc) from None

    def _begin(self) -> None:
        try:
            self.db.begin()
        except self.db.Error as exc:
            raise self.db.classify(exc, "cannot start the run") from None

    def _land(self, inputs: Inputs) -> None:
        next_record = 1
        # Reading allocates a few objects per record, none in a cycle: reference
        # counting frees them, and the cycle collector would only keep rescanning
        # them (a third of the reading time for a million records).
        collecting = gc.isenabled()
        gc.disable()
        try:
            landing.create_landing(self.db, inputs.header, self.plan.feed.input_columns)
            self.unused_columns = [name for name in inputs.header if name not in self.plan.feed.input_columns]
            for source, records in inputs.files:
                records = self.progress.records(records, source or "dead letters")
                next_record = landing.land(self.db, inputs.header, records, source, next_record)
        except self.db.Error as exc:
            problem = self.db.classify(exc, f"landing {inputs.source}")
            if isinstance(problem, (LoaderError, KeyboardInterrupt, SystemExit)):
                raise problem from None
            raise StageFailed(f"landing {inputs.source}: {str(exc).strip()}") from None
        except (OSError, EOFError) as exc:  # e.g. a gzip file that is cut short
            raise Refused(f"cannot read input {inputs.source}: {exc}") from None
        finally:
            if collecting:
                gc.enable()

    def _check_refusals(self, step: Step) -> None:
        rows = self._execute_all(self.plan.hooks["refusals"])
        if rows:
            reasons = "; ".join(r[0] for r in rows)
            raise Refused(f"{step.name} refused the run: {reasons}")

    @contextmanager
    def _timed(self, step: str):
        started = time.perf_counter()
        yield
        self.timings[step] = round(time.perf_counter() - started, 4)

    def _rollback(self) -> None:
        # rollback fails harmlessly if the error already ended the transaction
        try:
            self.db.cursor.execute("rollback")
        except self.db.Error:
            pass

    def _record_failure(self, exc: BaseException) -> str:
        """Roll back, and put the run's error on record; returns it."""
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            self.db.usable_after_stop()
        self._rollback()
        if isinstance(exc, KeyboardInterrupt):
            error = "interrupted by the user (Ctrl-C); nothing was kept"
        elif isinstance(exc, SystemExit):
            error = "stopped by a signal; nothing was kept"
        else:
            error = str(exc)
        try:
            self.db.begin()
            self._execute_all(self.plan.hooks["failed"], {"error": error})
            self.db.cursor.execute("commit")
        except (self.db.Error, LoaderError):
            self._rollback()  # the database itself is the problem: the message still reaches the user
        return error
