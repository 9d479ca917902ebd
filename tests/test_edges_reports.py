"""What a run says is what the database holds, at the edges: a disk that fills up at COMMIT,
a stdout that cannot be written, a database another program wrote."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate_batch import write_batch
from conftest import ROOT, SAMPLE, make_loader

RUNNER = [sys.executable, str(ROOT / "runner.py")]


# -- a full disk ---------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB file system of its own (tmpfs), as root can mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def free_kib(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize // 1024


def test_a_disk_that_fills_up_is_reported_as_what_it_left(small_disk, tmp_path):
    """With a little less free space each time, a load fails at its COMMIT, or its opening's,
    or cannot even open the database: exit 3, "disk full", and the run's record says what the
    database holds; when the failure itself cannot be written, the message says so, and the
    next run marks the run interrupted."""
    batch = tmp_path / "batch.csv"
    write_batch(batch, 4000, seed=5, start="2025-02-01T00:00:00")
    seen = set()
    for free in range(8, 200, 2):  # (the window where nothing can be written is a few KiB wide)
        if {"marked failed", "not marked"} <= seen:
            break
        db = small_disk / "p.db"
        for leftover in small_disk.iterdir():
            leftover.unlink()
        load = subprocess.run([*RUNNER, str(SAMPLE), "--db", str(db), "--now", "2025-02-01T00:00:00", "-q"],
                              capture_output=True, text=True)
        assert load.returncode == 0, load.stderr
        with open(small_disk / "filler", "wb") as filler:
            filler.write(b"\0" * ((free_kib(small_disk) - free) * 1024))
        full = subprocess.run([*RUNNER, str(batch), "--db", str(db), "--now", "2025-03-01T00:00:00", "-q"],
                              capture_output=True, text=True)
        (small_disk / "filler").unlink()
        assert full.returncode == 3, full.stderr
        assert "disk full" in full.stderr and "internal error" not in full.stderr and "Traceback" not in full.stderr
        assert full.stdout == ""
        rows = _rows(db, "select run_id, status, error from run_log order by run_id")
        assert _rows(db, "select count(*) from events") == [(5,)]  # nothing of the batch was kept
        if len(rows) == 1:
            seen.add("not opened")
            assert "could not be marked" not in full.stderr
        elif rows[1][1] == "failed":
            seen.add("marked failed")
            assert "disk full" in rows[1][2] and "could not be marked" not in full.stderr
        else:
            seen.add("not marked")
            assert rows[1][1] == "running"
            assert "run 2 could not be marked failed (disk full); the next run will mark it interrupted" \
                in full.stderr
            after = subprocess.run([*RUNNER, str(SAMPLE), "--db", str(db), "--now", "2025-03-01T00:00:00", "-q"],
                                   capture_output=True, text=True)
            assert after.returncode == 0, after.stderr
            assert _rows(db, "select status from run_log where run_id = 2") == [("interrupted",)]
    assert {"marked failed", "not marked"} <= seen, seen


def test_a_disk_with_no_space_at_all_says_disk_full(small_disk):
    db = small_disk / "p.db"
    assert subprocess.run([*RUNNER, str(SAMPLE), "--db", str(db), "-q"], capture_output=True).returncode == 0
    with open(small_disk / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    done = subprocess.run([*RUNNER, str(SAMPLE), "--db", str(db), "--now", "2025-03-01T00:00:00"],
                          capture_output=True, text=True)
    assert done.returncode == 3 and "disk full" in done.stderr, done.stderr


def _rows(db: Path, sql: str) -> list:
    import sqlite3
    from contextlib import closing
    # closed, not left to the garbage collector: a file unlinked while open keeps its space,
    # and the small disk would fill up with earlier rounds' databases
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


# -- stdout ----------------------------------------------------------------------------------

def test_a_summary_that_cannot_be_written_after_commit_exits_5(loader):
    with open("/dev/full", "w") as full:
        done = subprocess.run([*RUNNER, str(SAMPLE), "--db", str(loader.db), "--now", "2025-02-01T00:00:00"],
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 5
    assert "run 1 succeeded and was committed, but its result could not be written to stdout" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert loader.rows("select status from run_log") == [("succeeded",)]
    assert len(loader.events()) == 5


@pytest.mark.parametrize("command", [["--runs"], ["--trace", "evt-1"], ["--prune-history", "1d"]])
def test_other_commands_whose_stdout_cannot_be_written_exit_5(loader, command):
    assert loader.run(SAMPLE).code == 0
    with open("/dev/full", "w") as full:
        done = subprocess.run([*RUNNER, *command, "--db", str(loader.db), "--now", "2025-03-01T00:00:00"],
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 5, done.stderr
    assert "could not be written to stdout" in done.stderr and "internal error" not in done.stderr


def test_a_reader_that_stops_reading_the_run_history_is_not_an_error(loader):
    assert loader.run(SAMPLE).code == 0
    # a history far longer than a pipe holds (64 KiB): the reader goes while it is written
    loader.rows("insert into run_log (run_id, feed, kind, status, started_at, source, error) "
                "select run_id + ?, feed, kind, status, started_at, source, error from run_log", 1)
    for _ in range(11):
        loader.rows("insert into run_log (run_id, feed, kind, status, started_at, source, error) "
                    "select run_id + (select max(run_id) from run_log), feed, kind, status, started_at, source, "
                    "error from run_log")
    assert loader.rows("select count(*) from run_log") == [(4096,)]
    for _ in range(3):  # the pipe may close before or while the table is written
        reader = subprocess.Popen([*RUNNER, "--runs", "--db", str(loader.db)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = reader.stdout.readline()
        reader.stdout.close()
        assert first.startswith("run_id") and reader.wait(timeout=60) == 0
        assert reader.stderr.read() == ""


# -- another program's database ----------------------------------------------------------------

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_programs_sqlite_file_is_refused_untouched(sqlite_loader):
    import sqlite3
    db = sqlite_loader.db
    with sqlite3.connect(db) as conn:
        conn.executescript("create table events (id integer, payload text);"
                           "create table watermark (name text, value text);"
                           "insert into events values (1, 'theirs');")
    before = _digest(db)
    replay = sqlite_loader.run("--replay-dead-letters")  # it finds no dead letters of the loader's
    assert replay.code == 0 and json.loads(replay.stdout) == {"replayed": 0} and _digest(db) == before
    for command in ([str(SAMPLE)], ["--upgrade"], ["--repair-watermark"]):
        done = sqlite_loader.run(*command)
        assert done.code == 3, (command, done.stderr)
        assert "events (it lacks event_id, event_ts, user_id, amount" in done.stderr
        assert "watermark (it lacks feed" in done.stderr and "nothing was written" in done.stderr
        assert _digest(db) == before
        assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_a_run_log_of_another_program_is_not_an_earlier_release(sqlite_loader):
    import sqlite3
    with sqlite3.connect(sqlite_loader.db) as conn:
        conn.execute("create table run_log (id integer, message text)")
    before = _digest(sqlite_loader.db)
    done = sqlite_loader.run(SAMPLE)
    assert done.code == 3 and "run_log (it lacks run_id, kind, status, started_at, source)" in done.stderr
    assert _digest(sqlite_loader.db) == before


def test_other_tables_are_left_alone(loader):
    if loader.engine == "sqlite":
        import sqlite3
        with sqlite3.connect(loader.db) as conn:
            conn.execute("create table customers (id integer, name text)")
    else:
        loader.rows("create table customers (id integer, name text)")
    assert loader.run(SAMPLE).code == 0
    assert loader.table_exists("customers") and len(loader.events()) == 5


def test_a_postgresql_schema_with_a_table_of_the_loaders_name_is_refused(request, tmp_path):
    loader = make_loader("postgresql", tmp_path, request)
    loader.rows("create table watermark (name text, value text)")
    done = loader.run(SAMPLE)
    assert done.code == 3 and "watermark (it lacks feed" in done.stderr
    assert not loader.table_exists("run_log") and not loader.table_exists("events")


def test_repair_on_a_path_that_does_not_exist_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    done = subprocess.run([*RUNNER, "--repair-watermark", "--db", str(missing)], capture_output=True, text=True)
    assert done.returncode == 3 and "does not exist" in done.stderr
    assert not missing.exists()
    assert json.loads(done.stdout or "null") is None
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.parametrize("table", ["create table schema_version (version integer); "
                                   "insert into schema_version values (7)",
                                   "create table schema_version (version text, applied_at text, description text); "
                                   "insert into schema_version values ('1.2.3', 'x', 'y')"])
def test_a_schema_version_table_of_another_program_is_not_the_loaders(loader, table):
    statements = [*table.split("; "), "create table events (id integer primary key, name text)"]
    for statement in statements:
        loader.rows(statement) if loader.engine == "postgresql" else _execute(loader.db, statement)
    for command in ([str(SAMPLE)], ["--runs"], ["--upgrade"]):
        done = loader.run(*command)
        assert done.code == 3, (command, done.stderr)
        assert "schema_version (" in done.stderr and "nothing was written" in done.stderr
    assert not loader.table_exists("run_log") and not loader.table_exists("watermark")


def _execute(db: Path, sql: str) -> None:
    import sqlite3
    with sqlite3.connect(db) as conn:
        conn.execute(sql)


def test_a_symbolic_link_that_leads_back_to_itself_is_refused(tmp_path):
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    db = tmp_path / "p.db"
    for args in (["loop1"], [str(SAMPLE), "--output", "loop1"]):
        done = subprocess.run([*RUNNER, *args, "--db", str(db)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2 and "leads back to itself" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and not db.exists()
