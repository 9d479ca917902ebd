"""One run: open it on record, load everything in one transaction, or roll back.

    opening transaction   schema stage + run/open.sql          -> committed
    load transaction      land input, stages 02..NN            -> committed, or
    on failure            ROLLBACK, then run/failed.sql        -> committed

A dry run does both in one transaction, reads the summary, and rolls back.
"""

from __future__ import annotations

import gc
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from . import landing
from .errors import LoaderError, Refused, StageFailed
from .inputs import Inputs
from .plan import Plan
from .progress import Progress
from .sql_files import Statement


class Run:
    def __init__(self, db, plan: Plan, now: str, lookback_seconds: int = 0, progress: Progress | None = None):
        self.db = db
        self.plan = plan
        self.progress = progress or Progress()
        self.params = {"run_id": None, "now": now, "source": None, "watermark": None,
                       "lookback_seconds": lookback_seconds, "kind": "load", "format": None,
                       "header": None, "host": socket.gethostname(), "pid": db.pid, "error": None,
                       "key": None}
        self.timings: dict[str, float] = {}  # stage file -> seconds, for the summary

    # -- the commands ---------------------------------------------------------

    def load(self, inputs: Inputs, dry_run: bool = False) -> dict:
        """Run every stage on the inputs; returns the summary. A failure is recorded, then raised."""
        self.params.update(source=inputs.source, format=inputs.format, header=",".join(inputs.header))
        if dry_run:
            return self._dry_run(lambda: inputs)
        self._open()
        return self._load(lambda: inputs)

    def replay_dead_letters(self, dry_run: bool = False) -> dict | None:
        """The open dead letters through the current stages, as a run of its own (None: none open)."""
        self.params.update(kind="replay", source="dead_letter", format="replay", lookback_seconds=None)

        def open_dead_letters() -> Inputs:
            rows = self._execute_all(self.plan.hooks["replay_source"])
            return Inputs.from_dead_letters(rows)

        if not self._has_open_dead_letters():
            return None
        if dry_run:
            return self._dry_run(open_dead_letters)
        self._open()
        return self._load(open_dead_letters)

    def repair_watermark(self) -> dict:
        with self._transaction():
            self._execute_all(self.plan.schema)
            return self.query("repair_watermark")[0]

    def query(self, hook: str, **params) -> list[dict]:
        """A hook's last statement's rows, as dicts keyed by column name."""
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

    # -- the transactions -----------------------------------------------------

    def _open(self) -> None:
        with self._transaction():
            self._execute_all(self.plan.schema)
            self.params["run_id"] = self._execute_all(self.plan.hooks["open"])[0][0]

    def _load(self, read_inputs) -> dict:
        try:
            self._begin()
            self._run_stages(read_inputs())
            with self._timed("commit"):
                self.db.cursor.execute("commit")
        except BaseException as exc:
            self._record_failure(exc)
            raise
        return self._summary()

    def _dry_run(self, read_inputs) -> dict:
        """Everything in one transaction, then rolled back: nothing is kept, not even the run."""
        try:
            self._begin()
            self._execute_all(self.plan.schema)
            self.params["run_id"] = self._execute_all(self.plan.hooks["open"])[0][0]
            self._run_stages(read_inputs())
            by_step = {row["step"]: row["entries"] for row in self.query("lineage_by_step")}
            return {**self._summary(), "dry_run": True, "lineage_by_step": by_step}
        finally:
            self._rollback()

    def _run_stages(self, inputs: Inputs) -> None:
        rows = self._execute_all(self.plan.hooks["read_watermark"])
        self.params["watermark"] = rows[0][0] if rows else None
        with self._timed("landing"):
            self._land(inputs)
        for path, statements in self.plan.stages:
            self.progress.stage(path.name)
            with self._timed(path.name):
                self._execute_all(statements)
                self._check_refusals(path)
        self.progress.done()

    def _summary(self) -> dict:
        summary = self.query("summary")[0]
        summary["timings"] = self.timings
        return summary

    @contextmanager
    def _transaction(self):
        self._begin()
        try:
            yield
            self.db.cursor.execute("commit")
        except BaseException:
            self._rollback()
            raise

    def _has_open_dead_letters(self) -> bool:
        return bool(self.read_only_query("replay_source"))

    # -- the parts ------------------------------------------------------------

    def _execute(self, statement: Statement, extra: dict | None = None):
        try:
            return self.db.cursor.execute(self.db.text(statement), {**self.params, **(extra or {})})
        except self.db.Error as exc:
            problem = self.db.classify(exc, statement.where)
            if isinstance(problem, LoaderError):
                raise problem from None
            message = str(exc).strip()
            raise StageFailed(f"{statement.where}: {message}\n  in: {statement.first_line}") from None

    def _execute_all(self, statements: list[Statement], extra: dict | None = None) -> list:
        rows: list = []
        for statement in statements:
            cursor = self._execute(statement, extra)
            rows = cursor.fetchall() if cursor.description else []
        return rows  # the last statement's rows: a hook's result

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
            landing.create_landing(self.db, inputs.header)
            for source, records in inputs.files:
                records = self.progress.records(records, source)
                next_record = landing.land(self.db, inputs.header, records, source, next_record)
        except self.db.Error as exc:
            problem = self.db.classify(exc, f"landing {inputs.source}")
            if isinstance(problem, LoaderError):
                raise problem from None
            raise StageFailed(f"landing {inputs.source}: {str(exc).strip()}") from None
        except (OSError, EOFError) as exc:  # e.g. a gzip file that is cut short
            raise Refused(f"cannot read input {inputs.source}: {exc}") from None
        finally:
            if collecting:
                gc.enable()

    def _check_refusals(self, path: Path) -> None:
        rows = self._execute_all(self.plan.hooks["refusals"])
        if rows:
            reasons = "; ".join(r[0] for r in rows)
            raise Refused(f"{path.parent.name}/{path.name} refused the run: {reasons}")

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

    def _record_failure(self, exc: BaseException) -> None:
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
