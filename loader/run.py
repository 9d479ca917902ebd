"""One run: open it on record, load everything in one transaction, or roll back.

    opening transaction   schema stage + run/open.sql          -> committed
    load transaction      land input, stages 02..NN            -> committed, or
    on failure            ROLLBACK, then run/failed.sql        -> committed
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import landing
from .csv_input import read_csv
from .errors import LoaderError, Refused, StageFailed
from .plan import Plan
from .sql_files import Statement
from .sqlite_db import classify


@dataclass
class Inputs:
    """The input files, opened and their headers read before the database is touched."""
    files: list[tuple[str, list[str], object]]  # (source, header, record stream)

    @classmethod
    def open(cls, paths: list[str]) -> "Inputs":
        files = []
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


def execute(cursor, statement: Statement, params: dict):
    try:
        return cursor.execute(statement.text, params)
    except sqlite3.Error as exc:
        problem = classify(exc, statement.where)
        if isinstance(problem, LoaderError):
            raise problem from None
        raise StageFailed(f"{statement.where}: {exc}\n  in: {statement.first_line}") from None


def execute_all(cursor, statements: list[Statement], params: dict) -> list:
    rows: list = []
    for statement in statements:
        rows = execute(cursor, statement, params).fetchall()
    return rows  # the last statement's rows: the hook's result


def as_dicts(cursor, rows) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in rows]


class Run:
    def __init__(self, conn: sqlite3.Connection, plan: Plan, now: str):
        self.conn = conn
        self.plan = plan
        self.cursor = conn.cursor()
        self.params = {"run_id": None, "now": now, "source": None, "watermark": None,
                       "host": socket.gethostname(), "pid": os.getpid(), "error": None}
        self.timings: dict[str, float] = {}  # stage file -> seconds, for the summary

    def load(self, inputs: Inputs) -> int:
        """Run everything; returns the run_id. Raises a LoaderError after recording the failure."""
        self.params["source"] = inputs.source
        self._open()
        try:
            self._begin()
            rows = execute_all(self.cursor, self.plan.hooks["read_watermark"], self.params)
            self.params["watermark"] = rows[0][0] if rows else None
            with self._timed("landing"):
                self._land(inputs)
            for path, statements in self.plan.stages:
                with self._timed(path.name):
                    for statement in statements:
                        execute(self.cursor, statement, self.params)
                    self._check_refusals(path)
            with self._timed("commit"):
                self.cursor.execute("commit")
        except BaseException as exc:
            self._record_failure(exc)
            raise
        return self.params["run_id"]

    @contextmanager
    def _timed(self, step: str):
        started = time.perf_counter()
        yield
        self.timings[step] = round(time.perf_counter() - started, 3)

    def _open(self) -> None:
        try:
            self._begin()
            for statement in self.plan.schema:
                execute(self.cursor, statement, self.params)
            rows = execute_all(self.cursor, self.plan.hooks["open"], self.params)
            self.cursor.execute("commit")
        except BaseException:
            self._rollback()
            raise
        self.params["run_id"] = rows[0][0]

    def _begin(self) -> None:
        # IMMEDIATE takes the write lock now, waiting up to the lock timeout,
        # so two runs never interleave and neither deadlocks halfway through.
        try:
            self.cursor.execute("begin immediate")
        except sqlite3.Error as exc:
            raise classify(exc, "cannot start the run") from None

    def _land(self, inputs: Inputs) -> None:
        header = inputs.files[0][1]
        landing.create_landing(self.cursor, header)
        next_record = 1
        for source, header, records in inputs.files:
            try:
                next_record = landing.land(self.cursor, header, records, source, next_record)
            except sqlite3.Error as exc:
                raise classify(exc, f"landing {source}") from None

    def _check_refusals(self, path: Path) -> None:
        rows = execute_all(self.cursor, self.plan.hooks["refusals"], self.params)
        if rows:
            reasons = "; ".join(r[0] for r in rows)
            raise Refused(f"{path.parent.name}/{path.name} refused the run: {reasons}")

    def _rollback(self) -> None:
        # rollback() fails harmlessly if the error already ended the transaction
        try:
            self.cursor.execute("rollback")
        except sqlite3.Error:
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
            self.cursor.execute("begin immediate")
            execute_all(self.cursor, self.plan.hooks["failed"], {**self.params, "error": error})
            self.cursor.execute("commit")
        except (sqlite3.Error, LoaderError):
            self._rollback()  # the database itself is the problem: the message still reaches the user

    def query(self, hook: str) -> list[dict]:
        rows = execute_all(self.cursor, self.plan.hooks[hook], self.params)
        return as_dicts(self.cursor, rows)

    def repair_watermark(self) -> dict:
        try:
            self._begin()
            execute_all(self.cursor, self.plan.schema, self.params)
            rows = execute_all(self.cursor, self.plan.hooks["repair_watermark"], self.params)
            result = as_dicts(self.cursor, rows)[0]
            self.cursor.execute("commit")
        except BaseException:
            self._rollback()
            raise
        return result
