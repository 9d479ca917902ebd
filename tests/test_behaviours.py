"""The seven behaviours the mission requires, one test (or a few) each, for each shipped feed
(the sample's events, and orders: a key of two columns, epoch seconds) on both engines.
Records are written with loader.line(key, timestamp, value, number) in the feed's own shape."""

import json
import shlex

import pytest

from conftest import TARGET_DETAIL


# 1. Idempotent reruns ------------------------------------------------------

def test_rerun_loads_nothing_and_changes_nothing(feed_loader):
    loader = feed_loader
    first = loader.run(loader.sample).summary
    target_after_first = loader.table(loader.feed.target)
    dead_after_first = loader.rows("select dead_letter_id, source, line_no, raw, reason from dead_letter")

    second = loader.run(loader.sample).summary

    assert first["loaded"] == 5 and second["loaded"] == 0
    assert loader.table(loader.feed.target) == target_after_first
    assert loader.rows("select dead_letter_id, source, line_no, raw, reason from dead_letter") == dead_after_first
    assert second["dead_letters"] == 0 and second["dead_letters_repeated"] == 2
    # four records are older than the watermark; evt-005 sits on it and is reconsidered
    assert (second["skipped"], second["stale"]) == (4, 1)
    assert loader.rows("select line_no from lineage where run_id = 2 and step = 'skipped' order by line_no") == [
        (2,), (3,), (4,), (8,)]
    assert loader.rows("select run_id, status from dead_letter") == [(1, "open"), (1, "open")]
    assert loader.rows("select line_no from lineage where run_id = 2 and step = 'rejected' order by 1") == [
        (5,), (7,)]


def test_record_at_the_watermark_is_not_lost(feed_loader):
    loader = feed_loader
    loader.run(loader.sample)  # watermark 2025-01-15T12:00:00
    summary = loader.load(loader.line("late-1", "2025-01-15T12:00:00", "user-9", "1.00"),   # the watermark's second
                          loader.line("late-2", "2025-01-15T11:59:59", "user-9", "2.00"))   # older: skipped
    assert (summary["loaded"], summary["skipped"]) == (1, 1)
    keys = loader.events()
    assert loader.feed.key("late-1") in keys and loader.feed.key("late-2") not in keys


# 2. --report ------------------------------------------------------------------

def test_report_prints_lineage_by_step(feed_loader):
    result = feed_loader.run(feed_loader.sample, "--report")
    assert result.summary["lineage_by_step"] == {"staged": 5, "loaded": 5, "rejected": 2}
    table = result.stderr.splitlines()
    assert "lineage of run 1" in table
    assert any(line.split() == ["loaded", "5"] for line in table)
    assert any(line.split() == ["total", "12"] for line in table)


# 3. Run history ---------------------------------------------------------------

def test_output_writes_summary_lineage_and_every_run(feed_loader, tmp_path):
    loader = feed_loader
    loader.run(loader.sample)
    broken = loader.batch("x,2025-01-01T00:00:00,u,1", header="id,ts,user,amount\n")
    assert loader.run(broken).code == 2  # refused by a stage: logged as failed
    out = tmp_path / "results.json"
    result = loader.run(loader.sample, "--output", out)
    results = json.loads(out.read_text())
    assert results["summary"] == result.summary
    assert results["lineage_by_step"] == {"staged": 5, "skipped": 4, "stale": 1, "rejected": 2}
    assert [(r["run_id"], r["status"], r["feed"]) for r in results["runs"]] == [
        (1, "succeeded", loader.feed.name), (2, "failed", loader.feed.name), (3, "succeeded", loader.feed.name)]
    assert "no column" in results["runs"][1]["error"]


# 4. Stale data never wins ---------------------------------------------------------

def test_older_record_never_overwrites_a_newer_row(feed_loader):
    loader, key = feed_loader, feed_loader.feed.key
    loader.load(loader.line("k1", "2025-01-10T10:00:00", "new", 10))
    summary = loader.load(loader.line("k1", "2025-01-10T10:00:00", "new", 10),   # same version: at the watermark
                          loader.line("k2", "2025-01-10T11:00:00", "other", 1))  # keeps the watermark moving
    assert summary["stale"] == 1
    # rewind the watermark to backfill, then feed an older version of k1
    loader.rows("update watermark set value = '2025-01-01T00:00:00'")
    summary = loader.load(loader.line("k1", "2025-01-05T00:00:00", "old", 99))
    assert (summary["loaded"], summary["stale"]) == (0, 1)
    assert loader.events()[key("k1")] == loader.feed.stored("2025-01-10T10:00:00", "new", 10)
    assert loader.rows(f"select step, event_id, {TARGET_DETAIL} from lineage where run_id = 3") == [
        ("staged", key("k1"), None),
        ("stale", key("k1"), f"{loader.feed.target} already holds a version from 2025-01-10T10:00:00")]


def test_newer_record_updates_the_row(feed_loader):
    loader = feed_loader
    loader.load(loader.line("k1", "2025-01-10T10:00:00", "v1", 1))
    summary = loader.load(loader.line("k1", "2025-01-10T10:00:01", "v2", 2))
    assert (summary["loaded"], summary["updated"], summary["inserted"]) == (1, 1, 0)
    assert loader.events()[loader.feed.key("k1")] == loader.feed.stored("2025-01-10T10:00:01", "v2", 2)
    assert loader.rows(f"select run_id, line_no from {loader.feed.target}") == [(2, 2)]


def test_within_a_batch_the_newest_wins_and_ties_go_to_the_later_line(feed_loader):
    loader, key, ts = feed_loader, feed_loader.feed.key, feed_loader.feed.timestamp_column
    summary = loader.load(loader.line("k1", "2025-01-10T12:00:00", "newest", 1),
                          loader.line("k1", "2025-01-10T08:00:00", "older", 2),
                          loader.line("k2", "2025-01-10T09:00:00", "first", 3),
                          loader.line("k2", "2025-01-10T09:00:00", "second", 4))
    assert (summary["loaded"], summary["superseded"]) == (2, 2)
    assert loader.events() == {key("k1"): loader.feed.stored("2025-01-10T12:00:00", "newest", 1),
                               key("k2"): loader.feed.stored("2025-01-10T09:00:00", "second", 4)}
    assert loader.rows(f"select line_no, {TARGET_DETAIL} from lineage where step = 'superseded' order by line_no") == [
        (3, f"the record for this key on line 2 wins (newer {ts})"),
        (4, f"the record for this key on line 5 wins (same {ts}, later in the input)")]


# 5. All records rejected -----------------------------------------------------------

def test_all_rejected_is_a_normal_run(feed_loader):
    loader, feed = feed_loader, feed_loader.feed
    loader.run(loader.sample)
    result = loader.run(loader.batch(loader.line("a", "not-a-time", "u", 1),
                                     loader.line("", "2025-01-01T00:00:00", "u", 1),
                                     loader.line("b", "2025-01-01T00:00:00", "u", "x")))
    assert result.code == 0, result.stderr
    assert (result.summary["rejected"], result.summary["staged"], result.summary["loaded"]) == (3, 0, 0)
    assert result.summary["watermark"] == "2025-01-15T12:00:00"
    number = {"events": "amount is not a number", "orders": "total is not a decimal number",
              "prices": "price is not a decimal number"}[feed.name]
    assert loader.rows("select line_no, reason from dead_letter where run_id = 2 order by line_no") == [
        (2, f"{feed.timestamp_column} is not a valid timestamp: not-a-time"), (3, f"{feed.key_columns} is missing"),
        (4, f"{number}: x")]
    assert loader.rows("select status, rejected from run_log where run_id = 2") == [("succeeded", 3)]


# 6. Corrupted watermark -------------------------------------------------------------

@pytest.mark.parametrize("bad_value, shown", [
    ("yesterday-ish", "'yesterday-ish'"),
    ("2025-02-30T00:00:00", "'2025-02-30T00:00:00'"),
    (None, "NULL"),
    ("", "''"),
    ("2999-01-01T00:00:00", "'2999-01-01T00:00:00'"),
])
def test_corrupted_watermark_refuses_the_run(feed_loader, bad_value, shown):
    loader = feed_loader
    loader.run(loader.sample)
    loader.rows("update watermark set value = ?", bad_value)
    target_before = loader.table(loader.feed.target)
    lineage_before = loader.table("lineage")

    result = loader.run(loader.batch(loader.line("new", "2025-01-20T00:00:00", "u", 1)))

    assert result.code == 2
    assert f"the watermark for {loader.feed.name} is {shown}" in result.stderr
    # the command to run, complete
    assert f"runner.py --repair-watermark --db {shlex.quote(str(loader.db))} --feed {loader.feed.name}" \
        in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert loader.table(loader.feed.target) == target_before and loader.table("lineage") == lineage_before
    assert loader.rows("select value from watermark") == [(bad_value,)]
    status, error = loader.rows("select status, error from run_log where run_id = 2")[0]
    assert status == "failed" and shown in error


def test_repair_restores_the_last_good_watermark_from_run_log(feed_loader):
    loader = feed_loader
    loader.run(loader.sample)
    loader.rows("update watermark set value = 'garbage'")
    result = loader.run("--repair-watermark")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"feed": loader.feed.name, "watermark_before": "garbage",
                                         "watermark": "2025-01-15T12:00:00",
                                         "restored_from": "the last successful run in run_log",
                                         # nothing in the future (run/repair_watermark.sql)
                                         "future_watermark": None, "future_limit": "2025-02-01T00:05:00",
                                         "future_rows": 0, "future_rows_loaded_by_runs": None,
                                         "future_rows_query": None}
    assert "garbage" in result.stderr
    assert loader.run(loader.sample).code == 0


def test_repair_derives_the_watermark_from_lineage_without_run_history(feed_loader):
    loader = feed_loader
    loader.run(loader.sample)
    loader.rows("delete from run_log")
    loader.rows("update watermark set value = null")
    result = loader.run("--repair-watermark")
    assert json.loads(result.stdout)["watermark"] == "2025-01-15T12:00:00"
    assert loader.rows("select value from watermark") == [("2025-01-15T12:00:00",)]


# 7. A failing SQL file rolls everything back ---------------------------------------

def test_broken_stage_rolls_back_and_names_file_line_and_error(feed_loader):
    loader = feed_loader
    loader.run(loader.sample)
    tables = (loader.feed.target, "dead_letter", "lineage", "watermark")
    before = {t: loader.table(t) for t in tables}
    sql = loader.copy_sql()
    stage = sql / "10_write_lineage.sql"
    text = stage.read_text()
    line = text[:text.index("insert into lineage_record (")].count("\n") + 1
    stage.write_text(text.replace("insert into lineage_record (", "insert into lineage_typo ("))
    result = loader.run(loader.batch(loader.line("new", "2025-01-20T00:00:00", "u", 1),
                                     loader.line("bad", "", "u", 1)))
    assert result.code == 1
    # the file and line, then the database's own words
    assert f"sql/10_write_lineage.sql:{line}: " in result.stderr and "lineage_typo" in result.stderr
    assert "Traceback" not in result.stderr
    assert {t: loader.table(t) for t in tables} == before  # the feed's upsert (after 09) was rolled back too
    status, error = loader.rows("select status, error from run_log where run_id = 2")[0]
    assert status == "failed" and f"10_write_lineage.sql:{line}" in error


def test_the_upsert_guard_alone_keeps_stale_data_out(feed_loader):
    """Defence in depth: even if a stage edit stopped marking stale records,
    the WHERE guard of the feed's upsert itself refuses to overwrite a newer row."""
    loader = feed_loader
    sql = loader.copy_sql()
    stale_check = sql / "09_compare_with_stored.sql"
    text = stale_check.read_text()
    # the comparison with the stored row, which marks older records stale, finds nothing
    rule = "where stored._record_no = run_batch._record_no\n   and run_batch._outcome = 'loaded';"
    assert text.count(rule) == 1
    stale_check.write_text(text.replace(rule, rule.replace(";", " and 1 = 0;")))
    loader.load(loader.line("k1", "2025-01-10T10:00:00", "new", 10))
    loader.rows("update watermark set value = '2025-01-01T00:00:00'")
    loader.load(loader.line("k1", "2025-01-05T00:00:00", "old", 99))
    assert loader.events()[loader.feed.key("k1")] == loader.feed.stored("2025-01-10T10:00:00", "new", 10)
