"""Issue 20, items 6, 7, 13, 14 and 16: no option or file at the edges destroys data or is
misreported. --output never replaces what it must not; --db names a file that keeps what a run
does; optional configuration that cannot be read is no configuration; a read-only database
or directory is named and still read; an empty --feed or --db, and a --feed that is not a
file, are refused as such. Real files in tmp_path, the CLI run as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sqlite3
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, Result

READ_WITHOUT_LOCK = "read without a lock: a run in progress is not seen"


@pytest.fixture
def loader(sqlite_loader):
    """Files, modes and paths: SQLite only."""
    return sqlite_loader


def cli(loader, *args, env: dict | None = None, preexec_fn=None, obey_file_modes: bool = False) -> Result:
    """loader.run, with an environment and a hook in the child (umask, limits) of the test's own."""
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db),
           "--sql-dir", str(loader.sql_dir), "--now", "2025-02-01T00:00:00"]
    if obey_file_modes and os.geteuid() == 0:
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", "--bounding-set", caps, "--inh-caps", caps, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=loader.tmp,
                          env={**os.environ, **(env or {})}, preexec_fn=preexec_fn)
    return Result(done.returncode, done.stdout, done.stderr)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@contextmanager
def mode_of(path: Path, new_mode: int):
    """path in new_mode for the block (restored after, so tmp_path can be cleaned up)."""
    old = mode(path)
    path.chmod(new_mode)
    try:
        yield
    finally:
        path.chmod(old)


def loaded(loader) -> str:
    """The sample loaded; the database's digest, with everything checkpointed into it."""
    assert loader.run(SAMPLE).code == 0
    conn = sqlite3.connect(loader.db)
    conn.execute("pragma wal_checkpoint(truncate)")
    conn.close()  # the last connection: its -wal and -shm go with it
    assert sorted(p.name for p in loader.db.parent.iterdir() if p.name.startswith(loader.db.name)) == [loader.db.name]
    return digest(loader.db)


# -- 6. --output never replaces what it must not -----------------------------------------------------

def test_output_naming_the_database_is_refused_and_the_database_kept(loader):
    before = loaded(loader)
    result = loader.run(loader.batch("k,2025-01-20T00:00:00,u,1"), "--output", loader.db)
    assert result.code == 2, result.stderr
    assert f"--output {loader.db} is the database (--db)" in result.stderr
    assert digest(loader.db) == before
    assert loader.rows("select count(*) from run_log") == [(1,)]


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_output_naming_a_file_of_the_database_is_refused(loader, suffix):
    loaded(loader)
    beside = Path(f"{loader.db}{suffix}")
    result = loader.run(SAMPLE, "--output", beside)
    assert result.code == 2, result.stderr
    assert f"is the database's {suffix} file" in result.stderr
    assert not beside.exists()
    assert loader.rows("select count(*) from run_log") == [(1,)]


def test_output_naming_an_input_is_refused_and_the_input_kept(loader):
    batch = loader.batch("k,2025-01-20T00:00:00,u,1")
    before = digest(batch)
    result = loader.run(batch, "--output", batch)
    assert result.code == 2, result.stderr
    assert "is an input" in result.stderr
    assert digest(batch) == before
    assert not loader.db.exists()  # refused before the database is opened


def test_output_naming_the_feed_definition_is_refused(loader):
    definition = loader.tmp / "defs" / "events.sql"
    definition.parent.mkdir()
    definition.write_bytes((ROOT / "sql" / "feeds" / "events.sql").read_bytes())
    before = digest(definition)
    result = loader.run(SAMPLE, "--feed", definition, "--output", definition)
    assert result.code == 2, result.stderr
    assert "is the feed's definition" in result.stderr
    assert digest(definition) == before


def test_output_naming_a_sql_file_is_refused(loader):
    stage = loader.copy_sql() / "05_stage_records.sql"
    before = digest(stage)
    result = loader.run(SAMPLE, "--output", stage)
    assert result.code == 2, result.stderr
    assert "is a file under --sql-dir" in result.stderr
    assert digest(stage) == before


def test_output_naming_a_directory_is_refused_and_leaves_nothing(loader):
    target = loader.tmp / "results"
    target.mkdir()
    result = loader.run(SAMPLE, "--output", target)
    assert result.code == 2, result.stderr
    assert "is a directory" in result.stderr
    assert target.is_dir() and not list(target.iterdir())
    assert leftovers(loader.tmp) == []


def test_output_naming_a_fifo_is_refused_and_the_fifo_kept(loader):
    fifo = loader.tmp / "pipe"
    os.mkfifo(fifo)
    result = loader.run(SAMPLE, "--output", fifo)
    assert result.code == 2, result.stderr
    assert "is not a regular file" in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_naming_a_device_is_refused_and_the_device_kept(loader):
    node = loader.tmp / "null"
    try:  # a device of its own (like /dev/null): the real ones are never put at risk
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    result = loader.run(SAMPLE, "--output", node)
    assert result.code == 2, result.stderr
    assert "is not a regular file" in result.stderr
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_output_through_a_symlink_writes_its_target_and_keeps_the_link(loader):
    (loader.tmp / "real").mkdir()
    (loader.tmp / "links").mkdir()
    target = loader.tmp / "real" / "results.json"
    target.write_text("old\n")
    target.chmod(0o640)
    link = loader.tmp / "links" / "results.json"
    link.symlink_to(target)
    result = loader.run(SAMPLE, "--output", link)
    assert result.code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["summary"]["loaded"] == 5
    assert mode(target) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["results.json"]


def test_a_new_output_gets_the_umask_s_mode(loader):
    out = loader.tmp / "results.json"
    result = cli(loader, SAMPLE, "--output", out, preexec_fn=lambda: os.umask(0o002))
    assert result.code == 0, result.stderr
    assert mode(out) == 0o664  # 0666 & ~umask, as any program's new file
    assert json.loads(out.read_text())["summary"]["loaded"] == 5


def test_an_existing_output_keeps_its_mode(loader):
    out = loader.tmp / "results.json"
    out.write_text("{}\n")
    out.chmod(0o640)
    result = loader.run(SAMPLE, "--output", out)
    assert result.code == 0, result.stderr
    assert mode(out) == 0o640
    assert json.loads(out.read_text())["summary"]["loaded"] == 5


def test_a_read_only_output_is_not_replaced(loader):
    out = loader.tmp / "results.json"
    out.write_text("keep me\n")
    with mode_of(out, 0o444):
        result = loader.run(SAMPLE, "--output", out, obey_file_modes=True)
    assert result.code == 5, result.stderr
    assert "run 1 succeeded and was committed, but --output" in result.stderr
    assert out.read_text() == "keep me\n"
    assert leftovers(loader.tmp) == []


def test_an_output_that_fails_halfway_leaves_no_temporary_file(loader):
    loaded(loader)
    # a run whose error is 100 KB: --runs' JSON is larger than the process may write
    conn = sqlite3.connect(loader.db)
    with conn:
        conn.execute("update run_log set error = ? where run_id = 1", ("x" * 100_000,))
    conn.close()
    out = loader.tmp / "runs.json"
    out.write_text("previous\n")

    def limit_file_size():  # (Python ignores SIGXFSZ: the write fails with EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))
    result = cli(loader, "--runs", "--output", out, preexec_fn=limit_file_size)
    assert result.code == 5, result.stderr
    assert "--output" in result.stderr and "could not be written" in result.stderr
    assert out.read_text() == "previous\n"
    assert leftovers(loader.tmp) == [] and not [p for p in loader.tmp.iterdir() if p.name.startswith(".")]


# -- 7. --db keeps what a run does ---------------------------------------------------------------

COMMANDS = [[str(SAMPLE)], ["--replay-dead-letters"], ["--repair-watermark"], ["--trace", "evt-001"],
            ["--runs"], ["--upgrade"], ["--prune-history", "90d"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c[0].startswith("--") else "load")
def test_db_in_memory_is_refused_for_every_command(loader, command):
    loader.db = ":memory:"
    result = loader.run(*command)
    assert result.code == 2, result.stderr
    assert "--db :memory: would keep nothing; give a file, or try the batch with --dry-run" in result.stderr
    assert sorted(p.name for p in loader.tmp.iterdir()) == []


@pytest.mark.parametrize("uri", ["file:pipeline.db", "file::memory:?cache=shared", "FILE:pipeline.db?mode=memory"])
def test_db_as_a_file_uri_is_refused(loader, uri):
    loader.db = uri
    result = loader.run(SAMPLE)
    assert result.code == 2, result.stderr
    assert "a file: URI is not taken" in result.stderr
    assert sorted(p.name for p in loader.tmp.iterdir()) == []


# -- 13. optional configuration, and no database left by a command that committed nothing ---------

def test_an_unreadable_home_is_no_openlineage_configuration(loader):
    home = loader.tmp / "home"
    home.mkdir()
    env = {"HOME": str(home), "OPENLINEAGE_URL": "", "OPENLINEAGE_CONFIG": ""}
    with mode_of(home, 0o000):
        result = cli(loader, SAMPLE, env=env, obey_file_modes=True)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["loaded"] == 5
    assert "internal error" not in result.stderr and "warning" not in result.stderr


def test_a_command_that_fails_before_its_first_commit_leaves_no_database(loader):
    sql = loader.copy_sql()
    schema = sql / "01_schema.sql"
    schema.write_text(schema.read_text() + "\nselect no_such_column from run_log;\n")
    result = loader.run(SAMPLE)
    assert result.code == 1, result.stderr
    assert "no_such_column" in result.stderr
    assert sorted(p.name for p in loader.tmp.iterdir() if p.name.startswith("pipeline.db")) == []
    # a failure after the run was opened (committed) keeps the database and its record
    schema.write_text(schema.read_text().replace("select no_such_column from run_log;", ""))
    stage = sql / "06_route_rejects.sql"
    stage.write_text(stage.read_text() + "\nselect no_such_column from run_log;\n")
    result = loader.run(SAMPLE)
    assert result.code == 1, result.stderr
    assert loader.rows("select status from run_log") == [("failed",)]


def test_an_empty_file_the_user_made_is_kept_when_the_command_fails(loader):
    loader.db.touch()
    sql = loader.copy_sql()
    schema = sql / "01_schema.sql"
    schema.write_text(schema.read_text() + "\nselect no_such_column from run_log;\n")
    result = loader.run(SAMPLE)
    assert result.code == 1, result.stderr
    assert loader.db.exists()  # not this process's to remove
    # ... and a new one is removed: the same command on a path that held nothing
    loader.db = loader.tmp / "new.db"
    assert loader.run(SAMPLE).code == 1
    assert not [p for p in loader.tmp.iterdir() if p.name.startswith("new.db")]


# -- 14. a read-only database ------------------------------------------------------------------------

def test_a_read_only_shm_left_behind_is_named_and_kept(loader):
    loaded(loader)
    shm = Path(f"{loader.db}-shm")
    with mode_of(loader.db, 0o444):
        result = loader.run(loader.batch("k,2025-01-20T00:00:00,u,1"), obey_file_modes=True)
        assert result.code == 3, result.stderr
        assert f"the database file {loader.db} is read-only" in result.stderr
    assert shm.exists() and not mode(shm) & 0o200  # SQLite made it with the database's mode
    # the database is writable again; its -shm is not
    result = loader.run(loader.batch("k2,2025-01-20T00:00:00,u,1"), obey_file_modes=True)
    assert result.code == 3, result.stderr
    assert f"{shm} is read-only" in result.stderr and f"chmod 644 {shm}" in result.stderr
    assert shm.exists()  # never deleted
    shm.chmod(0o644)
    assert loader.run(loader.batch("k3,2025-01-20T00:00:00,u,1"), obey_file_modes=True).code == 0


@pytest.mark.parametrize("command, expected, change, changed", [
    (["--runs"], "succeeded", "update run_log set error = 'seen through the -wal'", "seen through the -wal"),
    (["--trace", "evt-001"], "loaded", "update events set user_id = 'seen-through-the-wal'", "seen-through-the-wal"),
], ids=["runs", "trace"])
def test_reading_commands_read_a_database_in_a_read_only_directory(loader, command, expected, change, changed):
    directory = loader.tmp / "ro"
    directory.mkdir()
    loader.db = directory / "pipeline.db"
    loaded(loader)
    with mode_of(directory, 0o555):
        # no -shm, and none can be made: read as immutable, and said so
        result = loader.run(*command, obey_file_modes=True)
        assert result.code == 0, result.stderr
        assert expected in result.stdout
        assert READ_WITHOUT_LOCK in result.stderr
        assert sorted(p.name for p in directory.iterdir()) == ["pipeline.db"]
        # another connection has it open (its -shm exists): read mode=ro, with a lock, the
        # latest commit (still in the -wal) seen
        holder = sqlite3.connect(loader.db)
        try:
            with holder:
                holder.execute(change)
            with mode_of(loader.db, 0o444):
                result = loader.run(*command, obey_file_modes=True)
        finally:
            holder.close()
    assert result.code == 0, result.stderr
    assert changed in result.stdout
    assert READ_WITHOUT_LOCK not in result.stderr


# -- 16. small ones ---------------------------------------------------------------------------------

def test_a_db_in_a_directory_that_may_not_be_entered_is_exit_3(loader):
    closed = loader.tmp / "closed"
    closed.mkdir()
    loader.db = closed / "pipeline.db"
    with mode_of(closed, 0o000):
        result = loader.run(SAMPLE, obey_file_modes=True)
    assert result.code == 3, result.stderr
    assert "internal error" not in result.stderr
    assert f"the directory {closed} may not be entered" in result.stderr


def test_an_empty_feed_is_refused(loader):
    result = loader.run(SAMPLE, "--feed", "")
    assert result.code == 2, result.stderr
    assert "--feed is empty" in result.stderr
    assert not loader.db.exists()


def test_an_empty_db_is_refused(loader):
    loader.db = ""
    result = loader.run(SAMPLE)
    assert result.code == 2, result.stderr
    assert "--db is empty" in result.stderr
    assert sorted(p.name for p in loader.tmp.iterdir()) == []


def test_a_feed_naming_a_directory_says_so(loader):
    (loader.tmp / "feeds").mkdir()
    result = loader.run(SAMPLE, "--feed", loader.tmp / "feeds")
    assert result.code == 2, result.stderr
    assert "is a directory" in result.stderr and "no such file" not in result.stderr


def test_a_feed_naming_a_device_says_so(loader):
    result = loader.run(SAMPLE, "--feed", "/dev/null")
    assert result.code == 2, result.stderr
    assert "/dev/null is not a regular file" in result.stderr and "no such file" not in result.stderr
