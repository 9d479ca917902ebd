"""--prune-history AGE removes the lineage of old runs and the dead letters they resolved, and
nothing else: every target row, watermark, open dead letter and run_log row stays, and the
pruned runs say so. One transaction under the run lock. On both engines."""

import json
import shlex
import sqlite3
import signal
import subprocess
import sys
import time

import pytest

from conftest import ORDERS_SAMPLE, ROOT, SAMPLE
from test_upgrade import written_by

JAN, FEB, MAR = "2025-01-16T00:00:00", "2025-02-16T00:00:00", "2025-03-16T00:00:00"


def three_months(loader) -> dict:
    """Three runs a month apart: January's load rejects two records; February's replay loads one
    of them, fixed in dead_letter (the dead letter it resolves), and rejects the other again
    (it stays open); March's load is recent."""
    jan = loader.run(loader.batch("evt-1,2025-01-15T00:00:00,u,1", "evt-2,2025-01-15T00:00:00,u,oops",
                                  "evt-3,2025-01-15T00:00:00,u,broken"), now=JAN)
    loader.rows("update dead_letter set raw = replace(raw, 'oops', '5')")
    feb = loader.run("--replay-dead-letters", now=FEB)
    mar = loader.run(loader.batch("evt-1,2025-03-15T00:00:00,u,3"), now=MAR)
    assert [r.code for r in (jan, feb, mar)] == [0, 0, 0], jan.stderr + feb.stderr + mar.stderr
    assert (feb.summary["dead_letters_resolved"], feb.summary["rejected"]) == (1, 1)
    return {"jan": jan.summary, "feb": feb.summary, "mar": mar.summary}


def kept(loader) -> dict:
    """What a prune must never touch."""
    return {"target": loader.table("events"), "watermark": loader.table("watermark"),
            "open": loader.rows("select * from dead_letter where status = 'open' order by 1"),
            "run_log": loader.rows("select run_id, status, input_records, loaded, rejected, lineage_entries "
                                   "from run_log order by 1")}


def prune(loader, *args, now="2025-03-20T00:00:00"):
    result = loader.run("--prune-history", *args, now=now)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_old_runs_lose_their_lineage_and_nothing_else(loader):
    three_months(loader)
    before = kept(loader)
    going = loader.rows("select count(*) from lineage where run_id in (1, 2)")[0][0]
    resolved = loader.rows("select count(*) from dead_letter where status = 'resolved' and resolved_by_run = 2")
    march = loader.rows("select * from lineage where run_id = 3 order by lineage_id")
    highest_id = loader.rows("select max(lineage_id) from lineage")[0][0]

    result, stderr = prune(loader, "20d")

    # January's and February's runs started more than 20 days before the clock; March's did not
    assert (result["runs_pruned"], result["first_run_id"], result["last_run_id"]) == (2, 1, 2)
    assert result["pruned_before"] == "2025-02-28T00:00:00" and result["feed"] is None
    assert result["lineage_entries_removed"] == going > 0
    assert result["dead_letters_removed"] == resolved[0][0] == 1
    assert loader.rows("select count(*) from lineage where run_id in (1, 2)") == [(0,)]
    assert loader.rows("select * from lineage where run_id = 3 order by lineage_id") == march
    assert loader.rows("select count(*) from dead_letter where status = 'resolved'") == [(0,)]
    # the target, the watermark, the open dead letter (rejected by a pruned run) and every run stay
    after = kept(loader)
    assert after == before and len(after["open"]) == 1
    assert loader.rows("select run_id, pruned_at from run_log order by 1") == [
        (1, "2025-03-20T00:00:00"), (2, "2025-03-20T00:00:00"), (3, None)]
    assert "pruned the lineage of runs of any feed that started before 2025-02-28T00:00:00: 2 runs (1 to 2)" \
        in stderr
    # the next run's lineage ids follow every id ever given, and it is accounted for as always
    loader.load("evt-5,2025-03-18T00:00:00,u,5", now="2025-03-21T00:00:00")
    assert loader.rows("select min(lineage_id) from lineage where run_id = 4")[0][0] > highest_id
    # the open dead letter still replays (with its pruned run's header)
    loader.rows("update dead_letter set raw = replace(raw, 'broken', '6') where status = 'open'")
    replay = loader.run("--replay-dead-letters", now="2025-03-22T00:00:00")
    assert replay.code == 0 and replay.summary["loaded"] == 1, replay.stderr


def test_a_dry_run_says_what_would_go_and_keeps_it(loader):
    three_months(loader)
    everything = {t: loader.table(t) for t in ("lineage", "dead_letter", "run_log", "events")}

    dry, stderr = prune(loader, "20d", "--dry-run")

    assert {t: loader.table(t) for t in everything} == everything
    assert dry["dry_run"] is True and stderr.startswith("dry run, nothing kept")
    real, _ = prune(loader, "20d")
    assert {k: dry[k] for k in ("runs_pruned", "lineage_entries_removed", "dead_letters_removed")} == \
        {k: real[k] for k in ("runs_pruned", "lineage_entries_removed", "dead_letters_removed")}
    again, stderr = prune(loader, "20d")
    assert again["runs_pruned"] == 0 and "nothing to prune" in stderr


def test_one_feed_or_every_feed(loader):
    three_months(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders", now=JAN).code == 0
    orders = loader.rows("select * from lineage where feed = 'orders' order by lineage_id")

    result, _ = prune(loader, "20d", "--feed", "events")

    assert result["feed"] == "events" and result["runs_pruned"] == 2
    assert loader.rows("select * from lineage where feed = 'orders' order by lineage_id") == orders
    result, _ = prune(loader, "20d")
    assert result["runs_pruned"] == 1 and result["lineage_entries_removed"] == len(orders)
    assert loader.rows("select count(*) from lineage where run_id <> 3") == [(0,)]


def test_trace_and_runs_say_the_history_was_pruned(loader):
    three_months(loader)
    prune(loader, "20d")

    trace = loader.run("--trace", "evt-1", "--output", loader.tmp / "trace.json")
    assert trace.code == 0, trace.stderr
    assert "the lineage of 2 of the feed's runs, the latest started 2025-02-16T00:00:00, was pruned on " \
        "2025-03-20T00:00:00" in trace.stdout
    story = json.loads((loader.tmp / "trace.json").read_text())
    assert story["pruned"]["last_run_id"] == 2 and [h["run_id"] for h in story["history"]] == [3, 3]
    gone = loader.run("--trace", "evt-2")
    assert "never seen in any run of the feed events whose lineage is kept" in gone.stdout
    runs = loader.run("--runs").stdout.splitlines()
    assert "pruned_at" in runs[0] and runs[1].count("2025-03-20T00:00:00") == 1
    assert "2025-03-20T00:00:00" not in runs[3]


def test_a_database_of_an_earlier_release_is_upgraded_and_pruned(loader):
    """Release ab383c7 wrote one lineage row per entry (now lineage_before_v3): pruned like the
    rest, and the ids it gave are never given again."""
    old = written_by(loader, "ab383c7")
    highest_id = old.rows("select max(lineage_id) from lineage")[0][0]
    entries = old.rows("select count(*) from lineage")[0][0]

    result, stderr = prune(old, "1d")

    assert "upgrading" in stderr and result["runs_pruned"] == 5
    assert result["lineage_entries_removed"] == entries
    assert old.rows("select count(*) from lineage_before_v3") == [(0,)]
    summary = old.load("evt-010,2025-01-16T00:00:00,user-6,3", now="2025-03-21T00:00:00")
    assert old.rows("select min(lineage_id) from lineage where run_id = ?", summary["run_id"])[0][0] > highest_id


def test_vacuum_gives_the_space_back(loader):
    lines = [f"k{i:06d},2025-01-15T00:00:00,user-{i % 97},{i}" for i in range(20_000)]
    loader.load(*lines, now=JAN)
    loader.load(loader.line("k1", "2025-03-15T00:00:00"), now=MAR)

    pruned, stderr = prune(loader, "20d")
    vacuumed, _ = prune(loader, "20d", "--vacuum")

    assert pruned["lineage_entries_removed"] == 40_000 and not pruned["vacuumed"]
    assert "--vacuum" in stderr and vacuumed["vacuumed"] and vacuumed["runs_pruned"] == 0
    if loader.engine == "sqlite":
        # deleting frees pages for the next runs; the file keeps its size until VACUUM
        assert pruned["bytes_after"] == pruned["bytes_before"]
        assert pruned["reusable_bytes_after"] > pruned["bytes_before"] / 5  # the target's rows stay
        assert vacuumed["bytes_after"] <= pruned["bytes_after"] - pruned["reusable_bytes_after"]
        assert loader.db.stat().st_size == vacuumed["bytes_after"]
        assert loader.rows("pragma integrity_check") == [("ok",)]
    else:
        assert vacuumed["bytes_after"] < pruned["bytes_after"]


def test_a_prune_that_fails_changes_nothing(loader):
    three_months(loader)
    everything = {t: loader.table(t) for t in ("lineage", "dead_letter", "run_log")}
    hook = loader.copy_sql() / "run" / "prune_history.sql"
    hook.write_text(hook.read_text() + "\nselect * from no_such_table;\n")

    result = loader.run("--prune-history", "20d", now="2025-03-20T00:00:00")

    assert result.code == 1 and "run/prune_history.sql:" in result.stderr and "no_such_table" in result.stderr
    assert {t: loader.table(t) for t in everything} == everything


SLOW = {"sqlite": "with recursive n(i) as (select 1 union all select i + 1 from n where i < 100000000) "
                  "select count(*) from n;",
        "postgresql": "select pg_sleep(5);"}  # the server finishes it after the client is gone


def test_a_prune_killed_halfway_changes_nothing(loader):
    three_months(loader)
    everything = {t: loader.table(t) for t in ("lineage", "dead_letter", "run_log")}
    hook = loader.copy_sql() / "run" / "prune_history.sql"
    # a slow last statement: the deletes before it have run when the prune is killed
    hook.write_text(hook.read_text().replace("select * from prune_result;", SLOW[loader.engine]
                                             + "\nselect * from prune_result;"))
    cmd = [sys.executable, str(ROOT / "runner.py"), "--prune-history", "20d", "--db", str(loader.db),
           "--sql-dir", str(loader.sql_dir), "--now", "2025-03-20T00:00:00"]
    pruning = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.0)
    assert pruning.poll() is None, pruning.communicate()
    pruning.send_signal(signal.SIGKILL)
    pruning.wait()

    # a dry run takes the run lock: once it has, the killed prune's transaction is over
    loader.sql_dir = ROOT / "sql"
    assert prune(loader, "20d", "--dry-run")[0]["runs_pruned"] == 2
    assert {t: loader.table(t) for t in everything} == everything
    if loader.engine == "sqlite":
        assert loader.rows("pragma integrity_check") == [("ok",)]
    assert prune(loader, "20d")[0]["runs_pruned"] == 2


def test_it_waits_for_the_run_lock(loader):
    three_months(loader)
    with loader.holding_the_run_lock():
        result = loader.run("--prune-history", "20d", "--lock-timeout", "0.3")
    assert result.code == 4 and "another run is in progress" in result.stderr
    assert loader.rows("select count(*) from run_log where pruned_at is not null") == [(0,)]


@pytest.mark.parametrize("args, message", [
    (["--prune-history", "ninety days"], "--prune-history 'ninety days' is not a duration"),
    (["--prune-history", "90d", str(SAMPLE)], "--prune-history takes no input files"),
    (["--vacuum"], "--vacuum goes with --prune-history"),
    (["--prune-history", "90d", "--runs"], "choose one of"),
    (["--prune-history", "90d", "--vacuum", "--dry-run"], "--vacuum does not go with --dry-run"),
    (["--prune-history", "90d", "--lookback", "2d"], "--lookback applies to loads"),
])
def test_bad_arguments_are_refused(sqlite_loader, args, message):
    result = sqlite_loader.run(*args)
    assert result.code == 2 and message in result.stderr


def test_a_database_no_run_has_used_is_refused(sqlite_loader):
    result = sqlite_loader.run("--prune-history", "90d")
    assert result.code == 3 and "does not exist" in result.stderr
    assert not sqlite_loader.db.exists()


def test_the_vacuum_command_it_suggests_works_as_written(sqlite_loader):
    loader = sqlite_loader
    three_months(loader)
    _, stderr = prune(loader, "20d")
    command = stderr.split("To give the space back to the file system: ")[1].strip()
    assert command.startswith(shlex.join([sys.executable, str(ROOT / "runner.py")]))
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vacuumed"] is True


def test_the_next_load_does_the_same_after_a_prune(loader, tmp_path, request):
    """No decision a run makes reads lineage: a pruned database and an unpruned twin load the
    next batch alike."""
    from conftest import make_loader
    (tmp_path / "twin").mkdir()
    twin = make_loader(loader.engine, tmp_path / "twin", request)
    for db in (loader, twin):
        three_months(db)
    prune(loader, "20d")
    # a rerun of January's keys (older and newer), a late record, a new key, a reject
    lines = ("evt-1,2025-01-15T00:00:00,u,9", "evt-3,2025-01-15T00:00:00,u,7", "evt-2,2025-01-10T00:00:00,u,1",
             "evt-9,2025-03-19T00:00:00,u,9", "evt-8,2025-03-19T00:00:00,u,bad")
    counts = ("loaded", "inserted", "updated", "skipped", "late_skipped", "stale", "rejected", "dead_letters",
              "dead_letters_repeated", "watermark")
    results = [db.load(*lines, now="2025-03-21T00:00:00") for db in (loader, twin)]
    assert [{k: r[k] for k in counts} for r in results][0] == [{k: r[k] for k in counts} for r in results][1]
    rows = "select event_id, event_ts, user_id, amount, run_id, line_no from events order by 1"
    assert loader.rows(rows) == twin.rows(rows)  # (each file's path is its own)
    assert loader.table("watermark") == twin.table("watermark")


def test_ids_are_never_given_twice_after_a_prune(loader):
    """Lineage ids and dead letter ids follow the highest ever given, even when a prune removed
    the rows that held it: of a database upgraded from schema version 2, pruned in part."""
    old = written_by(loader, "ab383c7")
    highest_id = old.rows("select max(lineage_id) from lineage")[0][0]
    result, _ = prune(old, "1s", "--feed", "events", now="2025-02-01T00:00:03")  # runs 1 and 2 of 5
    assert result["runs_pruned"] == 2
    summary = old.load("evt-010,2025-01-16T00:00:00,user-6,3", "evt-011,2025-01-16T00:00:00,user-6,bad",
                       now="2025-03-21T00:00:00")
    assert old.rows("select min(lineage_id) from lineage where run_id = ?", summary["run_id"])[0][0] > highest_id
    assert old.rows("select count(*), count(distinct lineage_id) from lineage")[0] == \
        old.rows("select count(*), count(*) from lineage")[0]
    # a resolved dead letter with the highest id, pruned: the next dead letter does not take its id
    top = old.rows("select max(dead_letter_id) from dead_letter")[0][0]
    old.rows("update dead_letter set status = 'resolved', resolved_by_run = ? where dead_letter_id = ?",
             summary["run_id"], top)
    prune(old, "0s", now="2025-03-22T00:00:00")
    assert old.rows("select count(*) from dead_letter where dead_letter_id = ?", top) == [(0,)]
    old.load("evt-012,2025-01-17T00:00:00,user-6,worse", now="2025-03-23T00:00:00")
    assert old.rows("select max(dead_letter_id) from dead_letter")[0][0] > top


def test_the_vacuum_command_names_the_feed_as_given(sqlite_loader, tmp_path):
    """--feed by name: the suggested command prunes that feed, not the default one; and a feed
    named by name needs no definition of the default feed at hand."""
    loader = sqlite_loader
    three_months(loader)
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders", now=JAN).code == 0
    sql = loader.copy_sql()
    (sql / "feeds" / "events.sql").unlink()  # (the orders feed's definition stays)
    result = loader.run("--prune-history", "20d", "--feed", "orders", now="2025-03-20T00:00:00")
    assert result.code == 0, result.stderr
    command = result.stderr.split("To give the space back to the file system: ")[1].strip()
    assert "--feed orders" in command and "--feed events" not in command
    events_lineage = loader.rows("select count(*) from lineage where feed = 'events'")
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr
    assert loader.rows("select count(*) from lineage where feed = 'events'") == events_lineage
    mistyped = loader.run("--prune-history", "20d", "--feed", "order", now="2025-03-20T00:00:00")
    assert "nothing to prune: no run of the feed order is on record" in mistyped.stderr
    assert loader.run("--runs", "--feed", "orders").code == 0


def test_a_database_without_history_is_left_alone(sqlite_loader, tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table mine (x)").connection.commit()
    sqlite_loader.db = other
    result = sqlite_loader.run("--prune-history", "90d")
    assert result.code == 3 and "holds no run history" in result.stderr
    assert sqlite_loader.rows("select name from sqlite_master") == [("mine",)]
