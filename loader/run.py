"""One run: open it on record, load everything in one transaction, or roll back.

    opening transaction   schema stage + run/open.sql          -> committed
    load transaction      land input, stages 02..NN            -> committed, or
    on failure            ROLLBACK, then run/failed.sql        -> committed
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import landing
from .csv_input import read_csv
from .errors import LoaderError, Refused, StageFailed
from .plan import Plan
from .sql_files import Statement


@dataclass
class Inputs:
    """The input files, opened and their headers read before the database is touched."""
    files: list[tuple[str, list[str], object]]  # (source, header, record stream)

    @classmethod
    def open(cls, paths: list[str]) -> "Inputs":
        files = []
        # a file is known by its absolute path, however it was spelled, so a
        # rerun from another directory recognises its dead letters
        paths = [str(Path(p).resolve()) for p in paths]
        twice = {p for p in paths if paths.count(p) > 1}
        if twice:
            raise Refused(f"the same input is given more than once: {', '.join(sorted(twice))}")
        for path in paths:
            try:
                handle = open(path, "rb")
            except OSError as exc:
                raise Refused(f"cannot read input {path}: {exc.strerror}") from None
            header, records = read_csv(handle, path)
            files.append((path, header, records))
        headers = {tuple(h) for _, h, _ in files}
        if len(headers) > 1:
            raise Refused("the input files have different headers: " + "; ".join(
                f"{s}: {','.join(h)}" for s, h, _ in files))
        return cls(files)

    @property
    def source(self) -> str:
        return ", ".join(s for s, _, _ in self.files)


class Run:
    def __init__(self, db, plan: Plan, now: str):
        self.db = db
        self.plan = plan
        self.params = {"run_id": None, "now": now, "source": None, "watermark": None,
                       "host": socket.gethostname(), "pid": db.pid, "error": None}
        self.timings: dict[str, float] = {}  # stage file -> seconds, for the summary

    # -- the two transactions ------------------------------------------------

    def load(self, inputs: Inputs) -> int:
        """Run everything; returns the run_id. Raises a LoaderError after recording the failure."""
        self.params["source"] = inputs.source
        self._open()
        try:
            self._begin()
            rows = self._execute_all(self.plan.hooks["read_watermark"])
            self.params["watermark"] = rows[0][0] if rows else None
            with self._timed("landing"):
                self._land(inputs)
            for path, statements in self.plan.stages:
                with self._timed(path.name):
                    self._execute_all(statements)
                    self._check_refusals(path)
            with self._timed("commit"):
                self.db.cursor.execute("commit")
        except BaseException as exc:
            self._record_failure(exc)
            raise
        return self.params["run_id"]

    def _open(self) -> None:
        try:
            self._begin()
            self._execute_all(self.plan.schema)
            rows = self._execute_all(self.plan.hooks["open"])
            self.db.cursor.execute("commit")
        except BaseException:
            self._rollback()
            raise
        self.params["run_id"] = rows[0][0]

    def repair_watermark(self) -> dict:
        try:
            self._begin()
            self._execute_all(self.plan.schema)
            result = self.query("repair_watermark")[0]
            self.db.cursor.execute("commit")
        except BaseException:
            self._rollback()
            raise
        return result

    def query(self, hook: str) -> list[dict]:
        """A hook's last statement's rows, as dicts keyed by column name."""
        rows = self._execute_all(self.plan.hooks[hook])
        names = [d[0] for d in self.db.cursor.description]
        return [dict(zip(names, row)) for row in rows]

    # -- the parts ------------------------------------------------------------

    def _execute(self, statement: Statement):
        try:
            return self.db.cursor.execute(self.db.text(statement), self.params)
        except self.db.Error as exc:
            problem = self.db.classify(exc, statement.where)
            if isinstance(problem, LoaderError):
                raise problem from None
            message = str(exc).strip()
            raise StageFailed(f"{statement.where}: {message}\n  in: {statement.first_line}") from None

    def _execute_all(self, statements: list[Statement]) -> list:
        rows: list = []
        for statement in statements:
            cursor = self._execute(statement)
            rows = cursor.fetchall() if cursor.description else []
        return rows  # the last statement's rows: a hook's result

    def _begin(self) -> None:
        try:
            self.db.begin()
        except self.db.Error as exc:
            raise self.db.classify(exc, "cannot start the run") from None

    def _land(self, inputs: Inputs) -> None:
        next_record = 1
        try:
            landing.create_landing(self.db, inputs.files[0][1])
            for source, header, records in inputs.files:
                next_record = landing.land(self.db, header, records, source, next_record)
        except self.db.Error as exc:
            problem = self.db.classify(exc, f"landing {inputs.source}")
            if isinstance(problem, LoaderError):
                raise problem from None
            raise StageFailed(f"landing {inputs.source}: {str(exc).strip()}") from None

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
        self.params["error"] = error
        try:
            self.db.begin()
            self._execute_all(self.plan.hooks["failed"])
            self.db.cursor.execute("commit")
        except (self.db.Error, LoaderError):
            self._rollback()  # the database itself is the problem: the message still reaches the user
