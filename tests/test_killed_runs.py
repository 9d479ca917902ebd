"""A killed run is told from a live one by its pid and when its process started (issue 20,
item 5): the next run marks it interrupted when its pid is gone, is a zombie (killed, not yet
reaped), or belongs to a process that started at another time (the pid was given again). On
PostgreSQL the pid is the server session's, and its start the backend's."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SAMPLE


def start_killable_load(loader) -> subprocess.Popen:
    """A load from standard input that has its header and waits for more: its run is 'running'
    (run 2, after the sample's) until the test kills it."""
    assert loader.run(SAMPLE).code == 0
    runner = subprocess.Popen([sys.executable, str(ROOT / "runner.py"), "-", "--db", str(loader.db),
                               "--now", "2025-02-01T00:00:01", "-q"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runner.stdin.write(b"event_id,event_ts,user_id,amount\nevt-100,2025-01-20T00:00:00,u,1\n")
    runner.stdin.flush()
    deadline = time.monotonic() + 30
    while loader.rows("select status from run_log where run_id = 2") != [("running",)]:
        assert runner.poll() is None and time.monotonic() < deadline, runner.stderr.read()
        time.sleep(0.02)
    return runner


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2:].split()[0].decode()


def next_run_finds(loader, run_id: int = 2) -> tuple:
    result = loader.run(loader.batch("evt-200,2025-01-20T00:00:00,u,1"), now="2025-02-01T00:00:02")
    assert result.code == 0, result.stderr
    return loader.rows("select status, error from run_log where run_id = ?", run_id)[0]


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux's /proc")


@needs_proc
def test_a_killed_runner_not_yet_reaped_is_dead(sqlite_loader):
    """Its parent has not reaped it (a zombie) when the next run takes the lock, which the kernel
    released when it died."""
    loader = sqlite_loader
    runner = start_killable_load(loader)
    runner.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while state(runner.pid) != "Z":  # (not runner.poll(): that would reap it)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        status, error = next_run_finds(loader)
        assert state(runner.pid) == "Z"  # still not reaped when the next run looked
    finally:
        runner.wait()
    assert status == "interrupted" and "killed" in error


@needs_proc
def test_a_killed_run_whose_pid_was_given_again_is_dead(loader):
    """The killed run's pid now belongs to a live process that started later: on SQLite this
    test's own process, on PostgreSQL an idle session of this test (the pid of each recorded in
    place of the dead one's; its recorded start is the dead one's)."""
    runner = start_killable_load(loader)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    if loader.engine == "sqlite":
        loader.rows("update run_log set pid = ? where run_id = 2", os.getpid())
        assert next_run_finds(loader)[0] == "interrupted"
        return
    import psycopg
    with psycopg.connect(loader.db, autocommit=True) as session:
        loader.rows("update run_log set pid = ? where run_id = 2", session.info.backend_pid)
        assert next_run_finds(loader)[0] == "interrupted"


@needs_proc
def test_a_live_process_keeps_its_run(loader):
    """A run whose pid and start are a live process's stays 'running' (its runner is between its
    transactions, or waits for the lock)."""
    runner = start_killable_load(loader)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    if loader.engine == "sqlite":
        from loader.sqlite_db import process_started
        loader.rows("update run_log set pid = ?, process_started = ? where run_id = 2",
                    os.getpid(), process_started(os.getpid()))
        assert next_run_finds(loader)[0] == "running"
        return
    import psycopg
    with psycopg.connect(loader.db, autocommit=True) as session:
        session.execute("update run_log set pid = pg_backend_pid(), process_started = "
                        "(select backend_start::text from pg_stat_activity where pid = pg_backend_pid()) "
                        "where run_id = 2")
        assert next_run_finds(loader)[0] == "running"


@needs_proc
def test_process_is_alive():
    from loader import sqlite_db
    me, started = os.getpid(), sqlite_db.process_started(os.getpid())
    assert started and started.endswith("/" + sqlite_db.BOOT_ID)
    assert sqlite_db.process_is_alive(me, started) and sqlite_db.process_is_alive(me, None)
    assert not sqlite_db.process_is_alive(me, "1/" + sqlite_db.BOOT_ID)  # the pid of a process started then
    assert not sqlite_db.process_is_alive(None, None)
    child = subprocess.Popen(["true"])
    child_started = sqlite_db.process_started(child.pid)
    deadline = time.monotonic() + 10
    while state(child.pid) != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not sqlite_db.process_is_alive(child.pid, child_started)
    assert not sqlite_db.process_is_alive(child.pid, None)  # a zombie, even to the pid-only check
    child.wait()
    assert not sqlite_db.process_is_alive(child.pid, child_started)


def test_without_proc_the_pid_alone_decides(monkeypatch):
    """macOS has no /proc: nothing records the start, and os.kill(pid, 0) decides."""
    from loader import sqlite_db

    def no_proc(pid):
        raise FileNotFoundError(f"/proc/{pid}/stat")
    monkeypatch.setattr(sqlite_db, "_proc_stat", no_proc)
    assert sqlite_db.process_started(os.getpid()) is None
    assert sqlite_db.process_is_alive(os.getpid(), None)
    child = subprocess.Popen(["true"])
    child.wait()
    assert not sqlite_db.process_is_alive(child.pid, None)
