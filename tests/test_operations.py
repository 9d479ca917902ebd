"""Day-to-day operation: dry runs, dead-letter replay, late data, record traces, more inputs,
run history. Each on both engines."""

import gzip
import hashlib
import json
import subprocess
import sys

from conftest import HEADER, ROOT, SAMPLE

TABLES = ("events", "dead_letter", "lineage", "watermark", "run_log")


def snapshot(loader) -> dict:
    return {t: loader.table(t) for t in TABLES}


# 1. Dry run -------------------------------------------------------------------------

def test_dry_run_reports_what_would_happen_and_keeps_nothing(loader):
    loader.run(SAMPLE)
    batch = loader.batch("evt-001,2025-01-15T13:00:00,user-1,20.00", "new,2025-01-15T14:00:00,u,1", "bad,,u,1")
    if loader.engine == "sqlite":
        loader.rows("pragma wal_checkpoint(truncate)")
        digest = hashlib.sha256(loader.db.read_bytes()).hexdigest()
    before = snapshot(loader)

    dry = loader.run(batch, "--dry-run", "--report")
    assert dry.code == 0, dry.stderr
    assert snapshot(loader) == before
    if loader.engine == "sqlite":
        assert hashlib.sha256(loader.db.read_bytes()).hexdigest() == digest  # byte for byte

    real = loader.run(batch).summary
    assert dry.summary["dry_run"] is True
    same = ("run_id", "input_records", "loaded", "updated", "inserted", "rejected", "stale", "watermark")
    assert {k: dry.summary[k] for k in same} == {k: real[k] for k in same}
    assert dry.summary["lineage_by_step"] == {"staged": 2, "loaded": 2, "rejected": 1}


def test_dry_run_tries_an_edited_stage_without_trusting_it(loader):
    loader.run(SAMPLE)
    sql = loader.copy_sql()
    feed = sql / "feeds" / "events.sql"
    feed.write_text(feed.read_text().replace("then 'amount is not a number: ' || amount",
                                             "then null"))  # a rule edit: let bad amounts through
    before = snapshot(loader)
    dry = loader.run(loader.batch("k,2025-01-16T00:00:00,u,abc"), "--dry-run")
    # the edit lets a record through with no amount, and the target refuses it: the dry run
    # shows the failure, file and line, and keeps nothing (not even a failed run in run_log)
    assert dry.code == 1
    assert "feeds/events.sql:" in dry.stderr and "amount" in dry.stderr
    assert snapshot(loader) == before


# 2. Dead-letter replay -------------------------------------------------------------

def test_replay_loads_what_now_passes_and_keeps_the_rest_open(loader):
    batch = loader.batch("early,2025-03-01T00:00:00,u,1",      # in the future on 2025-02-01
                         "broken,2025-01-20T00:00:00,u,abc",   # never valid
                         "ok,2025-01-20T00:00:00,u,2")
    first = loader.run(batch, now="2025-02-01T00:00:00").summary
    assert (first["loaded"], first["rejected"]) == (1, 2)

    replay = loader.run("--replay-dead-letters", now="2025-03-02T00:00:00")
    assert replay.code == 0, replay.stderr
    s = replay.summary
    assert (s["kind"], s["input_records"], s["loaded"], s["rejected"], s["dead_letters_resolved"]) == (
        "replay", 2, 1, 1, 1)
    assert s["late_loaded"] == 0 and s["watermark"] == "2025-03-01T00:00:00"
    loader.assert_accounted(s)
    assert loader.events()["early"] == ("2025-03-01T00:00:00", "u", 1)
    assert loader.rows("select line_no, status, resolved_by_run, reason from dead_letter order by line_no") == [
        (2, "resolved", 2, "event_ts is in the future: 2025-03-01T00:00:00"),
        (3, "open", None, "amount is not a number: abc")]
    # lineage keeps the original file and line of the replayed record
    assert loader.rows("select source, line_no from lineage where run_id = 2 and step = 'loaded'") == [
        (str(batch), 2)]

    before = snapshot(loader)
    again = loader.run("--replay-dead-letters", now="2025-03-02T00:00:00").summary
    assert (again["loaded"], again["rejected"], again["dead_letters"], again["dead_letters_resolved"]) == (
        0, 1, 0, 0)
    after = snapshot(loader)
    assert {t: after[t] for t in ("events", "dead_letter", "watermark")} == \
        {t: before[t] for t in ("events", "dead_letter", "watermark")}


def test_replay_ignores_the_watermark_but_not_the_upsert_guard(loader):
    loader.run(loader.batch("k,2025-01-10T00:00:00,u,x"))             # rejected: amount
    loader.run(loader.batch("k,2025-01-12T00:00:00,newer,1", "z,2025-01-20T00:00:00,u,1"))
    sql = loader.copy_sql()                                             # the rule is fixed:
    feed = sql / "feeds" / "events.sql"                                # amounts may be words
    feed.write_text(feed.read_text().replace(
        "case when amount_is_number then cast(amount as numeric) end",
        "case when amount_is_number then cast(amount as numeric) else 0 end").replace(
        "then 'amount is not a number: ' || amount", "then null"))
    s = loader.run("--replay-dead-letters").summary
    assert (s["staged"], s["stale"], s["dead_letters_resolved"]) == (1, 1, 1)   # not skipped: stale
    assert loader.events()["k"] == ("2025-01-12T00:00:00", "newer", 1)


def test_replay_streams_dead_letters_of_different_headers_and_formats_together(loader):
    """Runs with their own header (another column order, an extra column) and format (JSON
    Lines) rejected records as in the future; one replay, read in chunks across many thousands,
    parses each with its own run's header and loads them all in one run."""
    future = "2025-03-01T00:00:00"
    csv = loader.batch(*[f"{i},u-{i},{future},k{i:05d},x" for i in range(10_049)],
                       f'5,"u, quoted",{future},quoted,x',
                       header="amount,user_id,event_ts,event_id,extra\n")
    jsonl = loader.tmp / "more.jsonl"
    jsonl.write_text('{"user_id": "j", "event_id": "json-1", "amount": "7", "event_ts": "%s"}\n' % future)
    assert loader.run(csv, now="2025-02-01T00:00:00").summary["rejected"] == 10_050
    assert loader.run(jsonl, now="2025-02-01T00:00:00").summary["rejected"] == 1

    replay = loader.run("--replay-dead-letters", now="2025-03-02T00:00:00")
    assert replay.code == 0, replay.stderr
    s = replay.summary
    assert (s["input_records"], s["loaded"], s["rejected"], s["dead_letters_resolved"]) == (10_051, 10_051, 0, 10_051)
    events = loader.events()
    assert events["k00042"] == (future, "u-42", 42) and events["json-1"] == (future, "j", 7)
    assert events["quoted"] == (future, "u, quoted", 5)
    assert loader.rows("select count(*) from dead_letter where status = 'open'") == [(0,)]
    loader.assert_accounted(s)


def test_replay_with_nothing_open_says_so(loader):
    loader.load("k,2025-01-10T00:00:00,u,1")
    result = loader.run("--replay-dead-letters")
    assert result.code == 0 and json.loads(result.stdout) == {"replayed": 0}
    assert "nothing to replay" in result.stderr


# 3. Late data -------------------------------------------------------------------------

def test_lookback_lets_late_records_in_and_stays_idempotent(loader):
    loader.run(SAMPLE)                                                  # watermark 12:00
    late = loader.batch("late-1,2025-01-15T10:30:00,u,1",              # 90 min behind
                        "late-2,2025-01-15T09:00:00,u,1")              # 3 h behind
    without = loader.run(late).summary
    assert (without["loaded"], without["skipped"]) == (0, 2)
    with_lookback = loader.run(late, "--lookback", "2h").summary
    assert (with_lookback["loaded"], with_lookback["late_loaded"], with_lookback["skipped"]) == (1, 1, 1)
    assert loader.rows("select detail from lineage where run_id = 3 and step = 'skipped'") == [
        ("older than 2025-01-15T10:00:00 (the watermark 2025-01-15T12:00:00 minus the lookback)",)]
    again = loader.run(late, "--lookback", "2h").summary
    assert (again["loaded"], again["stale"]) == (0, 1)
    assert loader.rows("select lookback_seconds from run_log order by run_id") == [(0,), (0,), (7200,), (7200,)]
    assert loader.run(SAMPLE, "--lookback", "7d").summary["stale"] == 5   # all reconsidered, none loaded


def test_a_bad_lookback_is_refused(loader):
    result = loader.run(SAMPLE, "--lookback", "soon")
    assert result.code == 2 and "not a duration like 90m" in result.stderr
    result = loader.run(SAMPLE, "--lookback", "99999999999999999999")
    assert result.code == 2 and "more than 10000 days" in result.stderr


# 4. Record trace ---------------------------------------------------------------------

def test_trace_tells_the_story_of_one_key(loader, tmp_path):
    loader.run(SAMPLE)
    loader.run(loader.batch("evt-005,2025-01-15T12:30:00,user-2,150", "evt-005,2025-01-15T12:10:00,user-2,1"))
    loader.run(SAMPLE)
    out = tmp_path / "trace.json"
    result = loader.run("--trace", "evt-005", "--output", out)
    assert result.code == 0, result.stderr
    story = json.loads(out.read_text())
    assert [(h["run_id"], h["step"], h["line_no"]) for h in story["history"]] == [
        (1, "staged", 6), (1, "loaded", 6),
        (2, "staged", 2), (2, "loaded", 2), (2, "staged", 3), (2, "superseded", 3),
        (3, "staged", 6), (3, "skipped", 6)]
    assert story["current"]["event_ts"] == "2025-01-15T12:30:00" and story["current"]["run_id"] == 2
    assert "superseded" in result.stdout and "now in events" in result.stdout


def test_trace_shows_rejections_with_their_reason(loader):
    loader.run(SAMPLE)
    result = loader.run("--trace", "evt-004")
    assert "rejected" in result.stdout and "2025-02-30" in result.stdout
    assert "not in events" in result.stdout
    assert "never seen" in loader.run("--trace", "nobody").stdout


# 5. More inputs ----------------------------------------------------------------------

def test_json_lines_keep_exact_numbers_and_reject_bad_lines(loader):
    path = loader.tmp / "batch.jsonl"
    path.write_text('{"event_id": "j1", "event_ts": "2025-01-10T00:00:00Z", "user_id": "u", "amount": 12.50}\n'
                    '\n'
                    '{"event_id": "j2", "event_ts": "2025-01-10T00:00:00", "user_id": null, "amount": "7"}\n'
                    'not json\n'
                    '{"event_id": "j3", "event_ts": "2025-01-10T00:00:00", "amount": 1, "colour": "red"}\n'
                    '[1, 2]\n')
    result = loader.run(path)
    assert result.code == 0, result.stderr
    assert (result.summary["loaded"], result.summary["rejected"]) == (2, 3)
    loader.assert_accounted(result.summary)
    assert loader.rows("select event_id, user_id, amount from events order by 1") == [
        ("j1", "u", 12.5), ("j2", None, 7)]
    assert [r[0] for r in loader.rows("select reason from dead_letter order by line_no")] == [
        "is not valid JSON: Expecting value: line 1 column 1 (char 0)",
        "has a field the first record has not: colour", "is not a JSON object"]
    assert loader.rows("select format from run_log") == [("jsonl",)]


def test_standard_input_gzip_and_several_files_in_one_run(loader):
    plain = loader.batch("a,2025-01-10T00:00:00,u,1")
    packed = loader.tmp / "b.csv.gz"
    with gzip.open(packed, "wt") as f:
        f.write(HEADER + "b,2025-01-11T00:00:00,u,2\n")
    result = loader.run(plain, packed)
    assert result.code == 0, result.stderr
    assert result.summary["loaded"] == 2
    assert loader.rows("select event_id, source from lineage where step = 'loaded' order by 1") == [
        ("a", str(plain)), ("b", str(packed))]

    cmd = [sys.executable, str(ROOT / "runner.py"), "-", "--db", str(loader.db), "--now", "2025-02-01T00:00:00"]
    done = subprocess.run(cmd, input=HEADER + "c,2025-01-12T00:00:00,u,3\n", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert loader.rows("select source from events where event_id = 'c'") == [("-",)]


def test_a_file_that_is_not_gzip_is_refused(loader):
    fake = loader.tmp / "fake.csv.gz"
    fake.write_text(HEADER)
    result = loader.run(fake)
    assert result.code == 2 and "cannot read input" in result.stderr


# 7. Run history --------------------------------------------------------------------

def test_runs_lists_every_run_whatever_became_of_it(loader, tmp_path):
    loader.run(SAMPLE)
    loader.rows("update watermark set value = 'junk'")
    loader.run(SAMPLE)                                                   # refused: failed
    loader.run("--repair-watermark")
    loader.rows("insert into run_log (run_id, kind, status, started_at, host, pid) "
                "values (3, 'load', 'running', '2025-01-01T00:00:00', 'elsewhere', -1)")
    loader.run(SAMPLE)                                                   # not the same host: stays
    out = tmp_path / "runs.json"
    result = loader.run("--runs", "--output", out)
    assert result.code == 0
    statuses = [(r["run_id"], r["status"]) for r in json.loads(out.read_text())["runs"]]
    assert statuses[:2] == [(1, "succeeded"), (2, "failed")] and statuses[-1] == (4, "succeeded")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["run_id", "feed", "kind", "status"]
    assert any("failed" in line and "junk" in line for line in lines)


def test_runs_and_trace_only_read_and_never_wait_for_a_load(loader):
    loader.run(SAMPLE)
    before = snapshot(loader)
    with loader.holding_the_run_lock():                       # a load is in progress
        runs = loader.run("--runs", "--lock-timeout", "1")
        trace = loader.run("--trace", "evt-001", "--lock-timeout", "1")
    assert (runs.code, trace.code) == (0, 0), runs.stderr + trace.stderr
    assert "succeeded" in runs.stdout and "loaded" in trace.stdout
    assert snapshot(loader) == before


def test_a_dry_run_replay_changes_no_byte(sqlite_loader):
    loader = sqlite_loader
    loader.run(SAMPLE)
    loader.rows("pragma wal_checkpoint(truncate)")
    digest = hashlib.sha256(loader.db.read_bytes()).hexdigest()
    result = loader.run("--replay-dead-letters", "--dry-run")
    assert result.code == 0 and result.summary["dry_run"] is True
    assert result.stderr.startswith("dry run, nothing kept: ")
    assert hashlib.sha256(loader.db.read_bytes()).hexdigest() == digest


def test_reading_commands_do_not_create_a_mistyped_database(sqlite_loader):
    loader = sqlite_loader
    for args in (["--runs"], ["--trace", "k"], ["--replay-dead-letters"]):
        result = loader.run(*args)
        assert result.code == 3 and "does not exist (check --db)" in result.stderr
    assert not loader.db.exists()
    assert loader.run(SAMPLE, "--dry-run").code == 0
    assert sorted(p.name for p in loader.tmp.iterdir()) == []  # the dry run left no file either
