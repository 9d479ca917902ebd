"""The sample batch on a fresh database: the mission's numbers, and the rows behind them."""

from conftest import SAMPLE

MISSION = {"input_records": 7, "staged": 5, "loaded": 5, "rejected": 2, "dead_letters": 2,
           "lineage_entries": 12, "watermark": "2025-01-15T12:00:00"}


def test_sample_prints_the_mission_numbers(loader):
    result = loader.run(SAMPLE, now=None)  # the real clock, as a user runs it
    assert result.code == 0, result.stderr
    summary = result.summary
    assert {k: summary[k] for k in MISSION} == MISSION
    assert summary["run_id"] == 1 and summary["status"] == "succeeded"
    assert summary["loaded"] + summary["skipped"] + summary["stale"] + summary["superseded"] == summary["staged"]


def test_sample_rows_are_normalised_to_utc(loader):
    loader.run(SAMPLE)
    assert loader.events() == {
        "evt-001": ("2025-01-15T08:00:00", "user-1", 19.99),
        "evt-002": ("2025-01-15T09:30:00", "user-2", 5),        # 'Z' suffix
        "evt-003": ("2025-01-15T10:15:00", "user-1", 42.5),     # +01:00 converted to UTC
        "evt-005": ("2025-01-15T12:00:00", "user-2", 100),
        "evt-007": ("2025-01-14T23:59:59", "user-3", 0.99),
    }
    assert loader.rows("select event_id, run_id, line_no from events where event_id = 'evt-003'") == [
        ("evt-003", 1, 4)]


def test_sample_rejects_keep_raw_text_and_reason(loader):
    loader.run(SAMPLE)
    raw_lines = SAMPLE.read_text().splitlines()
    dead = loader.rows("select run_id, source, line_no, raw, reason, status from dead_letter order by line_no")
    assert [(d[2], d[3]) for d in dead] == [(5, raw_lines[4]), (7, raw_lines[6])]
    assert dead[0][4] == "event_ts is not a valid timestamp: 2025-02-30T10:00:00"
    assert dead[1][4] == "amount is not a number: twelve"
    assert {(d[0], d[1], d[5]) for d in dead} == {(1, str(SAMPLE), "open")}


def test_every_input_line_is_in_lineage(loader):
    loader.run(SAMPLE)
    steps = loader.rows("select line_no, step from lineage where run_id = 1 order by lineage_id")
    by_line = {}
    for line_no, step in steps:
        by_line.setdefault(line_no, []).append(step)
    assert by_line == {2: ["staged", "loaded"], 3: ["staged", "loaded"], 4: ["staged", "loaded"],
                       5: ["rejected"], 6: ["staged", "loaded"], 7: ["rejected"], 8: ["staged", "loaded"]}


def test_run_log_records_the_run(loader):
    loader.run(SAMPLE)
    assert loader.rows("select run_id, status, input_records, staged, rejected, loaded, watermark_before,"
                       " watermark_after, error from run_log") == [
        (1, "succeeded", 7, 5, 2, 5, None, "2025-01-15T12:00:00", None)]
