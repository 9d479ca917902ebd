"""Tests run the CLI as a user does and read the database back with SQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_input.txt"
HEADER = "event_id,event_ts,user_id,amount\n"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict:
        return json.loads(self.stdout)


class Loader:
    """One database file in tmp_path, and the runner pointed at it."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.db = tmp_path / "pipeline.db"
        self.sql_dir = ROOT / "sql"
        self._files = 0

    def run(self, *args, now: str | None = "2025-02-01T00:00:00", timeout=120) -> Result:
        cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(self.db),
               "--sql-dir", str(self.sql_dir)]
        if now:
            cmd += ["--now", now]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)
        return Result(done.returncode, done.stdout, done.stderr)

    def batch(self, *lines: str, header: str = HEADER) -> Path:
        """Write a CSV batch file and return its path."""
        self._files += 1
        path = self.tmp / f"batch{self._files}.csv"
        path.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    def load(self, *lines: str, **kwargs) -> dict:
        """Run a batch that must succeed; returns its summary."""
        result = self.run(self.batch(*lines), **kwargs)
        assert result.code == 0, result.stderr
        return result.summary

    def rows(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()

    def table(self, name: str) -> list[tuple]:
        return self.rows(f"select * from {name} order by 1")

    def events(self) -> dict:
        return {r[0]: r[1:4] for r in self.rows("select event_id, event_ts, user_id, amount from events")}

    def copy_sql(self) -> Path:
        """A private copy of sql/ that a test may edit."""
        self.sql_dir = self.tmp / "sql"
        shutil.copytree(ROOT / "sql", self.sql_dir)
        return self.sql_dir


@pytest.fixture
def loader(tmp_path) -> Loader:
    return Loader(tmp_path)
