"""Tests run the CLI as a user does and read the database back with SQL."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_input.txt"
ORDERS_SAMPLE = ROOT / "data" / "orders_sample.csv"
ENGINES = ["sqlite", "postgresql"]
HEADER = "event_id,event_ts,user_id,amount\n"


# A lineage entry's detail without what the record did to its feed's version history
# ("; history: opened"): what the tests of the target's rules compare (the version history
# has tests of its own, tests/test_version_history.py).
TARGET_DETAIL = ("replace(replace(replace(detail, '; history: opened', ''), '; history: split', ''), "
                 "'; history: closed', '')")


class TestFeed:
    """One shipped feed as the tests write records for it and read its target back: the same
    record (key, ISO timestamp, a text value, a number) in that feed's own shape."""

    name = "events"
    header = HEADER
    timestamp_column, key_columns, target = "event_ts", "event_id", "events"

    def line(self, key: str, ts: str, user, amount) -> str:
        return f"{key},{ts},{user},{amount}"

    def key(self, key: str) -> str:
        """The key's text form, as lineage and --trace have it."""
        return key

    def rows(self, loader) -> dict:  # key -> stored(timestamp, text value, number)
        return {r[0]: r[1:4] for r in loader.rows("select event_id, event_ts, user_id, amount from events")}

    def stored(self, ts: str, user, amount) -> tuple:
        """What the target keeps of a record (rows() gives it per key)."""
        return ts, user, amount

    def sample(self, tmp: Path) -> Path:
        return SAMPLE


class OrdersFeed(TestFeed):
    """sql/feeds/orders.sql: a key of two columns (a store and the key), epoch seconds."""

    name = "orders"
    header = "store_id,order_id,updated_at,customer,total\n"
    timestamp_column, key_columns, target = "updated_at", "store_id or order_id", "orders"

    def line(self, key: str, ts: str, user, amount) -> str:
        store = f"S{len(key) % 3}"  # a store of its own for some keys: both columns make the key
        return f"{store if key else ''},{key},{self.epoch(ts)},{user},{amount}"

    @staticmethod
    def epoch(ts: str) -> str:
        """An ISO timestamp (any offset) as epoch seconds; anything else (an invalid time) as is."""
        try:
            moment = datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
        except ValueError:
            return ts
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return str(int(moment.timestamp()))

    def key(self, key: str) -> str:
        return json.dumps([f"S{len(key) % 3}", key], separators=(",", ":"))

    def rows(self, loader) -> dict:
        return {json.dumps([r[0], r[1]], separators=(",", ":")): r[2:5] for r in loader.rows(
            "select store_id, order_id, updated_at, customer, total from orders")}

    def sample(self, tmp: Path) -> Path:
        """The events sample's records, in this feed's shape (the same counts, run after run)."""
        path = tmp / "orders_like_sample.csv"
        lines = SAMPLE.read_text().splitlines()[1:]
        path.write_text(self.header + "".join(self.line(*line.split(",")) + "\n" for line in lines))
        return path


class PricesFeed(OrdersFeed):
    """sql/feeds/prices.sql: a key of two columns, ISO timestamps, an op column (D deletes:
    delete_line), no text value (its target keeps the timestamp and the price)."""

    name = "prices"
    header = "store_id,sku,updated_at,price,op\n"
    timestamp_column, key_columns, target = "updated_at", "store_id or sku", "prices"

    def line(self, key: str, ts: str, user, amount, op: str = "U") -> str:
        store = f"S{len(key) % 3}"
        return f"{store if key else ''},{key},{ts},{amount},{op}"

    def delete_line(self, key: str, ts: str) -> str:
        return self.line(key, ts, None, "", op="D")

    def rows(self, loader) -> dict:
        return {json.dumps([r[0], r[1]], separators=(",", ":")): r[2:4] for r in loader.rows(
            "select store_id, sku, updated_at, price from prices")}

    def stored(self, ts: str, user, amount) -> tuple:
        return ts, amount

    def sample(self, tmp: Path) -> Path:
        path = tmp / "prices_like_sample.csv"
        lines = SAMPLE.read_text().splitlines()[1:]
        path.write_text(self.header + "".join(self.line(*line.split(",")) + "\n" for line in lines))
        return path


FEEDS = {"events": TestFeed(), "orders": OrdersFeed(), "prices": PricesFeed()}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict:
        return json.loads(self.stdout)


class Loader:
    """One fresh database (a SQLite file in tmp_path, or a PostgreSQL database), and the runner
    pointed at it, as a user runs it."""

    def __init__(self, tmp_path: Path, engine: str = "sqlite", db=None, feed: TestFeed = FEEDS["events"]):
        self.tmp = tmp_path
        self.engine = engine
        self.db = db if db is not None else tmp_path / "pipeline.db"
        self.sql_dir = ROOT / "sql"
        self.feed = feed
        self._files = 0

    @property
    def sample(self) -> Path:
        """The mission's sample, in this loader's feed's shape."""
        return self.feed.sample(self.tmp)

    def line(self, key: str, ts: str, user="u", amount=1) -> str:
        """One record as a line of this loader's feed."""
        return self.feed.line(key, ts, user, amount)

    def run(self, *args, now: str | None = "2025-02-01T00:00:00", timeout=120,
            obey_file_modes: bool = False) -> Result:
        cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(self.db),
               "--sql-dir", str(self.sql_dir)]
        if self.feed.name != "events" and "--feed" not in args:
            cmd += ["--feed", self.feed.name]
        if obey_file_modes and os.geteuid() == 0:
            # root ignores file modes; without these capabilities it obeys them like a user
            caps = "-dac_override,-dac_read_search"
            cmd = ["setpriv", "--bounding-set", caps, "--inh-caps", caps, *cmd]
        if now:
            cmd += ["--now", now]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.tmp)
        return Result(done.returncode, done.stdout, done.stderr)

    def batch(self, *lines: str, header: str | None = None) -> Path:
        """Write a CSV batch file (in the feed's shape unless header says otherwise) and return its path."""
        self._files += 1
        path = self.tmp / f"batch{self._files}.csv"
        path.write_text((header or self.feed.header) + "".join(line + "\n" for line in lines), encoding="utf-8")
        return path

    def load(self, *lines: str, args=(), **kwargs) -> dict:
        """Run a batch (with args, options) that must succeed and account for every record;
        returns its summary."""
        path = self.batch(*lines)
        result = self.run(path, *args, **kwargs)
        assert result.code == 0, result.stderr
        # batch() writes one record per line, after the header on line 1
        self.assert_accounted(result.summary, {str(path): set(range(2, len(lines) + 2))})
        return result.summary

    def assert_accounted(self, s: dict, lines_by_source: dict | None = None) -> None:
        """The accounting invariants, checked against the tables, for one run."""
        run_id = s["run_id"]
        assert s["input_records"] == s["staged"] + s["rejected"]
        assert s["staged"] == s["loaded"] + s["deleted"] + s["skipped"] + s["stale"] + s["differing"] + s["superseded"]
        assert s["loaded"] == s["inserted"] + s["updated"] + s["corrected"]
        assert s["rejected"] == s["dead_letters"] + s["dead_letters_repeated"]
        steps: dict = {}
        for source, line_no, step in self.rows(
                "select source, line_no, step from lineage where run_id = ? order by lineage_id", run_id):
            steps.setdefault((source, line_no), []).append(step)
        assert len(steps) == s["input_records"]
        outcomes = {"loaded": 0, "deleted": 0, "skipped": 0, "stale": 0, "differing": 0, "superseded": 0,
                    "rejected": 0}
        for record_steps in steps.values():
            assert record_steps == ["rejected"] or (
                record_steps[0] == "staged" and len(record_steps) == 2), record_steps
            outcomes[record_steps[-1]] += 1
        assert outcomes == {k: s[k] for k in outcomes}
        assert sum(len(v) for v in steps.values()) == s["lineage_entries"]
        rejected = {k for k, v in steps.items() if v == ["rejected"]}
        dead = self.rows("select d.source, d.line_no, d.raw, d.reason from dead_letter d"
                         " join lineage l on l.source = d.source and l.line_no = d.line_no"
                         " where l.run_id = ? and l.step = 'rejected' and d.status = 'open'", run_id)
        assert {(d[0], d[1]) for d in dead} == rejected  # each reject is an open dead letter
        assert all(d[2] and d[3] for d in dead)  # with its raw text and a reason
        if lines_by_source is not None:
            assert {(src, n) for src, lines in lines_by_source.items() for n in lines} == set(steps)

    def rows(self, sql: str, *params) -> list[tuple]:
        """Run SQL (with ? placeholders) on the database; numbers come back as int or float."""
        if self.engine == "sqlite":
            with sqlite3.connect(self.db) as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg
        with psycopg.connect(self.db, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            rows = cursor.fetchall() if cursor.description else []
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]

    def has_schema(self) -> bool:
        """Whether any run has touched the database yet."""
        if self.engine == "sqlite":
            return Path(self.db).exists()
        return bool(self.rows("select 1 from pg_tables where tablename = 'run_log'"))

    @contextmanager
    def holding_the_run_lock(self):
        """Another writer holds the database, as a concurrent run would."""
        if self.engine == "sqlite":
            holder = sqlite3.connect(self.db, isolation_level=None)
            holder.execute("begin immediate")
            try:
                yield
            finally:
                holder.execute("rollback")
                holder.close()
        else:
            import psycopg
            from loader.postgres_db import RUN_LOCK_KEY
            with psycopg.connect(self.db, autocommit=True) as holder:
                holder.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
                yield

    def table(self, name: str) -> list[tuple]:
        return self.rows(f"select * from {name} order by 1")

    def table_exists(self, name: str) -> bool:
        if self.engine == "sqlite":
            return bool(self.rows("select 1 from sqlite_master where type = 'table' and name = ?", name))
        return bool(self.rows("select 1 from information_schema.tables where table_name = ? "
                              "and table_schema = current_schema()", name))

    def events(self) -> dict:  # key -> (timestamp, the text value, the number), from the feed's target
        return self.feed.rows(self)

    def copy_sql(self) -> Path:
        """A private copy of sql/ that a test may edit."""
        self.sql_dir = self.tmp / "sql"
        shutil.copytree(ROOT / "sql", self.sql_dir)
        return self.sql_dir


@pytest.fixture(scope="session")
def postgres():
    """The throwaway cluster, or a skip with the reason (a failure in CI, where it must run)."""
    from postgres_server import Cluster, find_bindir
    bindir = find_bindir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bindir = None
    if bindir is None:
        reason = "no PostgreSQL server binaries (initdb) or no psycopg: pip install -r requirements-postgres.txt"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = Cluster(bindir).start()
    yield cluster
    cluster.stop()


def make_loader(engine: str, tmp_path: Path, request, feed: str = "events") -> Loader:
    if engine == "sqlite":
        return Loader(tmp_path, feed=FEEDS[feed])
    cluster = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.execute("postgres", f"create database {name}")
    return Loader(tmp_path, "postgresql", cluster.url(name), feed=FEEDS[feed])


@pytest.fixture(params=ENGINES)
def loader(request, tmp_path) -> Loader:
    """A fresh database on each engine: the behaviour suite runs against both."""
    return make_loader(request.param, tmp_path, request)


@pytest.fixture(params=[(engine, feed) for feed in FEEDS for engine in ENGINES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def feed_loader(request, tmp_path) -> Loader:
    """A fresh database on each engine, for each shipped feed: the behaviours hold for every feed."""
    engine, feed = request.param
    return make_loader(engine, tmp_path, request, feed)


@pytest.fixture
def sqlite_loader(tmp_path) -> Loader:
    """For what only a database file has: bytes, permissions, page limits."""
    return Loader(tmp_path)
