"""A stop (SIGTERM, Ctrl-C) at the commit step: what the runner reports is what the database
says happened. A signal that arrives while COMMIT runs is handled as soon as the driver's call
returns; LOADER_TEST_STOP (loader/test_stop.py) sends one at that moment, or just before the
COMMIT is sent, so each case is repeatable. tests/test_stops_random.py sends real signals at
random moments."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SAMPLE, make_loader

NOW = "2025-03-01T00:00:00"
B2 = ROOT / "tests" / "fixtures" / "release_127302b" / "b2.csv"


def run_stopped(loader, stop: str, *args, env_extra=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db), "--now", NOW]
    env = {**os.environ, "LOADER_TEST_STOP": stop, **(env_extra or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=loader.tmp)


def state(loader) -> dict:
    return {"events": loader.table("events"), "watermark": loader.table("watermark"),
            "lineage": loader.rows("select count(*) from lineage")[0][0],
            "dead_letter": loader.table("dead_letter")}


@pytest.mark.parametrize("signal_name, code", [("TERM", 143), ("INT", 130)])
def test_a_stop_as_the_load_commits_reports_the_committed_run(loader, signal_name, code):
    assert loader.run(SAMPLE).code == 0
    before = state(loader)
    done = run_stopped(loader, f"after-commit:2:{signal_name}", B2)  # commit 1 opens the run, 2 loads it
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    name = "SIGTERM" if signal_name == "TERM" else "Ctrl-C"
    assert f"stopped by {name} after run 2 was committed" in done.stderr
    assert "rolled back" not in done.stderr
    # the database agrees: the run succeeded, its records are in, its counts are the summary's
    status, loaded, error = loader.rows("select status, loaded, error from run_log where run_id = 2")[0]
    assert (status, error) == ("succeeded", None) and loaded == summary["loaded"] > 0
    after = state(loader)
    assert after["events"] != before["events"] and after["lineage"] > before["lineage"]
    assert summary["watermark"] == loader.rows("select value from watermark")[0][0]


def test_a_stop_just_before_the_load_commits_rolls_back(loader):
    assert loader.run(SAMPLE).code == 0
    before = state(loader)
    done = run_stopped(loader, "before-commit:2:TERM", B2)
    assert done.returncode == 143, done.stderr
    assert done.stdout == ""
    assert "stopped by SIGTERM: run 2 was rolled back and logged as failed" in done.stderr
    assert state(loader) == before
    assert loader.rows("select status, error from run_log where run_id = 2") == [
        ("failed", "stopped by a signal; nothing was kept")]


def test_a_stop_as_the_run_opens(loader):
    """The opening transaction: committed, the run is on record and is marked failed (nothing
    was loaded); not committed, there is no run to speak of."""
    assert loader.run(SAMPLE).code == 0
    before = state(loader)
    opened = run_stopped(loader, "after-commit:1:TERM", B2)
    assert opened.returncode == 143
    assert "stopped by SIGTERM: run 2 was rolled back and logged as failed" in opened.stderr
    assert loader.rows("select status from run_log where run_id = 2") == [("failed",)]
    not_opened = run_stopped(loader, "before-commit:1:TERM", B2)
    assert not_opened.returncode == 143
    assert "stopped by SIGTERM: nothing was changed (the run had not opened)" in not_opened.stderr
    assert loader.rows("select count(*) from run_log") == [(2,)]
    assert state(loader) == before


def test_a_stop_as_a_prune_commits(loader):
    assert loader.run(SAMPLE, now="2025-01-01T00:00:00").code == 0
    assert loader.run(B2, now="2025-01-02T00:00:00").code == 0
    kept = run_stopped(loader, "after-commit:1:TERM", "--prune-history", "30d")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["runs_pruned"] == 2
    assert "stopped by SIGTERM after the prune was committed" in kept.stderr
    assert loader.rows("select count(*) from run_log where pruned_at is not null") == [(2,)]
    assert loader.rows("select count(*) from lineage") == [(0,)]


def test_a_stop_just_before_a_prune_commits(loader):
    assert loader.run(SAMPLE, now="2025-01-01T00:00:00").code == 0
    lineage = loader.rows("select count(*) from lineage")
    done = run_stopped(loader, "before-commit:1:INT", "--prune-history", "30d")
    assert done.returncode == 130 and done.stdout == ""
    assert "stopped by Ctrl-C: nothing was pruned (rolled back)" in done.stderr
    assert loader.rows("select count(*) from run_log where pruned_at is not null") == [(0,)]
    assert loader.rows("select count(*) from lineage") == lineage


def test_a_stop_as_a_repair_commits(loader):
    assert loader.run(SAMPLE).code == 0
    loader.rows("delete from watermark")
    done = run_stopped(loader, "after-commit:1:TERM", "--repair-watermark")
    assert done.returncode == 0, done.stderr
    assert "stopped by SIGTERM after the repair was committed" in done.stderr
    assert loader.rows("select value from watermark") == [(json.loads(done.stdout)["watermark"],)]


def test_a_stop_as_an_upgrade_commits(sqlite_loader):
    loader = sqlite_loader
    shutil.copy(ROOT / "tests" / "fixtures" / "release_127302b" / "pipeline.db", loader.db)
    done = run_stopped(loader, "after-commit:1:TERM", "--upgrade")
    assert done.returncode == 0, done.stderr
    assert "stopped by SIGTERM after the upgrade was committed" in done.stderr
    newest = json.loads(done.stdout)["schema_version"]
    assert loader.rows("select max(version) from schema_version") == [(newest,)]
    rolled_back = tmp_copy = loader.tmp / "again.db"
    shutil.copy(ROOT / "tests" / "fixtures" / "release_127302b" / "pipeline.db", tmp_copy)
    loader.db = rolled_back
    done = run_stopped(loader, "before-commit:1:TERM", "--upgrade")
    assert done.returncode == 143 and "the schema was not upgraded (rolled back)" in done.stderr
    assert loader.rows("select max(version) from schema_version") == [(4,)]


def test_openlineage_hears_complete_when_the_stop_came_after_the_commit(loader, tmp_path):
    events = tmp_path / "events.jsonl"
    env = {"OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__APPEND": "true",
           "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": str(events)}
    done = run_stopped(loader, "after-commit:2:TERM", SAMPLE, env_extra=env)
    assert done.returncode == 0, done.stderr
    sent = [json.loads(line)["eventType"] for line in events.read_text().splitlines()]
    assert sent == ["START", "COMPLETE"]


SLOW_COMMIT = """
-- (a test's stage) makes the load's COMMIT last a few seconds: a deferred trigger that sleeps,
-- deaf to the cancel a stopped runner sends, so the COMMIT goes through while the runner is stopped
create or replace function slow_commit() returns trigger language plpgsql as $$
begin
    begin
        perform pg_sleep(3);
    exception when query_canceled then
        null;
    end;
    return null;
end
$$;
drop trigger if exists slow_commit on run_log;
create constraint trigger slow_commit after update on run_log deferrable initially deferred
    for each row execute function slow_commit();
update run_log set finished_at = finished_at where run_id = :run_id;
"""


def test_postgresql_a_sigterm_while_commit_is_in_flight_waits_for_it(request, tmp_path):
    """A real signal while the server runs the load's COMMIT: the runner cancels and reconnects,
    waits for the run lock (the COMMIT ends first), finds the run committed and says so."""
    loader = make_loader("postgresql", tmp_path, request)
    sql_dir = loader.copy_sql()
    (sql_dir / "13_slow_commit.sql").write_text(SLOW_COMMIT)
    assert loader.run(SAMPLE).code == 0
    cmd = [sys.executable, str(ROOT / "runner.py"), str(B2), "--db", str(loader.db), "--sql-dir", str(sql_dir),
           "--now", NOW]
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not loader.rows("select 1 from pg_stat_activity where query = 'commit' and state = 'active' "
                          "and wait_event = 'PgSleep'"):
        assert time.monotonic() < deadline and runner.poll() is None, runner.communicate()
        time.sleep(0.05)
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    assert "stopped by SIGTERM after run 2 was committed" in err
    assert json.loads(out)["run_id"] == 2
    assert loader.rows("select status from run_log where run_id = 2") == [("succeeded",)]
    assert "evt-008" in loader.events()  # b2.csv's new record
