"""Hostile records (issue 20, items 10-12): one bad record is one rejected record.

A JSON Lines object that nests too deep, holds a lone surrogate or a NUL, or names a column
twice (a repeated key, keys that differ only in case) is that record's rejection; in the first
object, whose keys name the columns, it refuses the batch (exit 2, the file and line named), as a
bad CSV header does. A key too long for PostgreSQL's index is rejected on both engines alike.
"""

from __future__ import annotations

import random
import string

import pytest

from conftest import SAMPLE, make_loader

SURROGATE = "contains a lone surrogate (an unpaired \\ud800-\\udfff escape)"
REST = '"event_ts": "2025-01-01T00:00:00", "user_id": "u", "amount": 1'


def record(key: str, more: str = "") -> str:
    """One JSON Lines record of the sample feed; more is text added before the closing brace."""
    return '{"event_id": "%s", %s%s}' % (key, REST, more)


def nested(depth: int, key: str = "k2") -> str:
    """A record nested depth deep, the record's own object counted."""
    return record(key, ', "x": ' + "[" * (depth - 1) + "]" * (depth - 1))


# each hostile record (as the second line of a file, or the first) and the reason it gets
CASES = {
    "nested 1000 deep": (nested(1000), "is nested deeper than 100"),
    "a lone surrogate in a value": (record("k2\\ud800"), SURROGATE),
    "a lone surrogate in a key": (record("k2", ', "note\\udc00": 1'), SURROGATE),
    "a NUL in a key": (record("k2", ', "note\\u0000": 1'), "contains a NUL byte (\\u0000)"),
    "a repeated key": (record("k2", ', "user_id": "v"'), "has the key user_id twice"),
    "keys that differ only in case": (record("k2", ', "Event_ID": "k9"'),
                                      "has keys that differ only in case: event_id, Event_ID"),
    "keys that differ only in spaces": (record("k2", ', " event_id": "k9"'),
                                        'has keys that differ only in surrounding spaces: "event_id", " event_id"'),
    "a repeated key in a nested object": (record("k2", ', "x": {"b": 1, "b": 2}'), "has the key b twice"),
}


def jsonl(loader, *lines: str):
    path = loader.tmp / f"batch{len(list(loader.tmp.glob('*.jsonl')))}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")  # escapes as written
    return path


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_first_object_refuses_the_batch_naming_the_file_and_line(loader, case):
    line, reason = CASES[case]
    assert loader.run(SAMPLE).code == 0
    before = {t: loader.table(t) for t in ("events", "dead_letter", "lineage", "watermark")}
    path = jsonl(loader, line, record("k3"))
    result = loader.run(path)
    assert result.code == 2, result.stderr
    assert f"{path}: the first record (line 1) {reason}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert {t: loader.table(t) for t in before} == before


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_later_object_is_that_records_rejection(loader, case):
    line, reason = CASES[case]
    path = jsonl(loader, record("k1"), line, record("k3"))
    result = loader.run(path)
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = result.summary
    loader.assert_accounted(summary, {str(path): {1, 2, 3}})
    assert (summary["loaded"], summary["rejected"]) == (2, 1)
    assert set(loader.events()) == {"k1", "k3"}
    # the raw text as written: a surrogate's escape is ASCII, storable on both engines
    assert loader.rows("select line_no, raw, reason from dead_letter") == [(2, line, reason)]


def test_nesting_100_deep_loads_and_101_is_rejected(loader):
    path = jsonl(loader, nested(100), nested(101, "k3"))
    summary = loader.run(path).summary
    assert (summary["loaded"], summary["rejected"]) == (1, 1)
    assert loader.rows("select line_no, reason from dead_letter") == [(2, "is nested deeper than 100")]


def test_a_lone_surrogate_stays_rejected_on_replay(loader):
    line = record("k2\\ud800")
    loader.run(jsonl(loader, record("k1"), line))
    replay = loader.run("--replay-dead-letters")
    assert replay.code == 0, replay.stderr
    assert (replay.summary["input_records"], replay.summary["rejected"]) == (1, 1)
    assert loader.rows("select raw, reason, status from dead_letter") == [
        (line, SURROGATE, "open")]


def noise(length: int) -> str:
    """Letters and digits that do not compress (PostgreSQL compresses a repetitive key to fit)."""
    return "".join(random.Random(length).choices(string.ascii_letters + string.digits, k=length))


def test_a_key_longer_than_2000_bytes_is_rejected_on_both_engines(loader):
    keys = {noise(2000): "loaded", "é" * 1000: "loaded", "ok": "loaded",  # 2000 bytes: the most
            noise(2001): "rejected", "é" * 1001: "rejected",
            noise(3000): "rejected"}  # beyond what a PostgreSQL index row holds
    path = loader.batch(*(loader.line(key, "2025-01-01T00:00:00") for key in keys))
    for _ in range(2):  # and again: nothing doubles
        result = loader.run(path)
        assert result.code == 0, result.stderr
        loader.assert_accounted(result.summary, {str(path): set(range(2, 2 + len(keys)))})
    assert set(loader.events()) == {key for key, fate in keys.items() if fate == "loaded"}
    assert sorted(loader.rows("select line_no, reason, status from dead_letter")) == [
        (line_no, "event_id is longer than 2000 bytes", "open")
        for line_no, fate in enumerate(keys.values(), start=2) if fate == "rejected"]
    # lineage keeps no key that long (its index would refuse it), the dead letter keeps the text
    assert loader.rows("select distinct event_id from lineage where step = 'rejected'") == [(None,)]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_composite_key_longer_than_2000_bytes_is_rejected(engine, tmp_path, request):
    loader = make_loader(engine, tmp_path, request, "orders")
    # the key's text is a JSON array of its columns: ["S1","..."]
    most = 2000 - len(loader.feed.key(""))  # the longest order_id whose key is 2000 bytes
    path = loader.batch(*(loader.line(noise(n), "2025-01-01T00:00:00") for n in (most, most + 1, 3000)))
    result = loader.run(path)
    assert result.code == 0, result.stderr
    loader.assert_accounted(result.summary)
    assert len(loader.feed.key(noise(most)).encode()) == 2000
    assert list(loader.events()) == [loader.feed.key(noise(most))]
    assert loader.rows("select line_no, reason from dead_letter order by line_no") == [
        (3, "store_id, order_id is longer than 2000 bytes"), (4, "store_id, order_id is longer than 2000 bytes")]
