"""Validation rules in SQL: what is rejected, with which reason; what is normalised."""

import pytest


@pytest.mark.parametrize("event_ts, stored", [
    ("2025-01-15T12:00:00", "2025-01-15T12:00:00"),
    ("2025-01-15 12:00:00", "2025-01-15T12:00:00"),
    ("2025-01-15T12:00:00Z", "2025-01-15T12:00:00"),
    ("2025-01-15T12:00:00.750+02:00", "2025-01-15T10:00:00"),
    ("2025-01-15T23:30:00-05:00", "2025-01-16T04:30:00"),
    ("2025-01-15", "2025-01-15T00:00:00"),
    ("2024-02-29T00:00:00", "2024-02-29T00:00:00"),
    ("  2025-01-15T12:00:00  ", "2025-01-15T12:00:00"),
])
def test_timestamps_are_stored_as_utc(loader, event_ts, stored):
    loader.load(f"k,{event_ts},u,1")
    assert loader.rows("select event_ts from events") == [(stored,)]


@pytest.mark.parametrize("event_ts", [
    "2025-02-30T10:00:00", "2025-02-29", "2025-04-31T00:00:00+01:00", "2025-01-15T24:00:00",
    "2025-01-15T12:00:60", "2025-13-01", "now", "2460000.5", "12:00", "15/01/2025",
    "2025-01-15T12:00:00+25:00", "2025-01-15T12:00:00 garbage",
])
def test_impossible_timestamps_are_rejected(loader, event_ts):
    summary = loader.load(f"k,{event_ts},u,1")
    assert summary["rejected"] == 1
    assert loader.rows("select reason from dead_letter") == [
        (f"event_ts is not a valid timestamp: {event_ts}",)]


def test_future_timestamps_beyond_five_minutes_are_rejected(loader):
    summary = loader.load("soon,2025-02-01T00:04:59,u,1", "late,2025-02-01T00:05:01,u,1",
                          now="2025-02-01T00:00:00")
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select reason from dead_letter") == [
        ("event_ts is in the future: 2025-02-01T00:05:01",)]
    assert summary["watermark"] == "2025-02-01T00:04:59"


@pytest.mark.parametrize("amount, stored", [("12", 12), ("-3.5", -3.5), ("+7", 7), (".5", 0.5), ("7.", 7)])
def test_numeric_amounts(loader, amount, stored):
    loader.load(f"k,2025-01-01T00:00:00,u,{amount}")
    assert loader.rows("select amount from events") == [(stored,)]


@pytest.mark.parametrize("amount", ["twelve", "1,5", "1e3", "--1", "1.2.3", ".", "-", "0x10"])
def test_non_numeric_amounts_are_rejected(loader, amount):
    loader.load(f'k,2025-01-01T00:00:00,u,"{amount}"')
    assert loader.rows("select reason from dead_letter") == [(f"amount is not a number: {amount}",)]


@pytest.mark.parametrize("amount", ["12345678901234567890123", "0.1234567890123456789", "9" * 400])
def test_amounts_the_database_would_round_are_rejected(loader, amount):
    loader.load(f"k,2025-01-01T00:00:00,u,{amount}", "ok,2025-01-01T00:00:00,u,123456789012.345")
    assert loader.rows("select reason from dead_letter") == [(f"amount has more than 15 digits: {amount}",)]
    assert loader.rows("select amount from events") == [(123456789012.345,)]


def test_a_line_with_the_wrong_number_of_fields_is_rejected_not_fatal(loader):
    summary = loader.load("a,2025-01-01T00:00:00,u,1,extra", "b,2025-01-01T00:00:00", "c,2025-01-01T00:00:00,u,1")
    assert (summary["rejected"], summary["loaded"]) == (2, 1)
    assert loader.rows("select line_no, raw, reason from dead_letter order by line_no") == [
        (2, "a,2025-01-01T00:00:00,u,1,extra", "has 5 fields, the header has 4"),
        (3, "b,2025-01-01T00:00:00", "has 2 fields, the header has 4")]


def test_missing_required_column_refuses_the_batch(loader):
    result = loader.run(loader.batch("a,2025-01-01T00:00:00,u", header="event_id,event_ts,user_id\n"))
    assert result.code == 2
    assert 'the input has no column "amount", which the feed events reads' in result.stderr
    assert "sql/feeds/events.sql" in result.stderr and "its header has event_id, event_ts, user_id" in result.stderr
    assert loader.rows("select count(*) from events") == [(0,)]
