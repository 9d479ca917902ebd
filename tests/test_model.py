"""Property test: random batches, several runs in a row, compared after every run with a small
independent model of the documented semantics:

- an invalid record is rejected;
- a valid record older than the watermark is skipped;
- of the rest, one per key survives: the newest event_ts, a tie to the later line (superseded);
- the survivor replaces the stored row only if it is strictly newer (else stale);
- the watermark moves to the newest event_ts loaded, never backwards.
For the prices feed (hard deletes), a record may be a deletion (op D), which competes with upserts
by the same rule: newer than what is stored for its key (the row, or the tombstone an earlier
deletion left) it removes the row and leaves a tombstone at its version (deleted); a later upsert
newer than the tombstone brings the key back. staged = loaded + deleted + skipped + stale + superseded.
"""

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from conftest import ENGINES, FEEDS, make_loader

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)

valid_record = st.builds(
    lambda key, minute, offset_hours, amount, user: {
        "key": f"k{key}",
        "utc": (BASE + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S"),
        # the same instant written with an offset: the loader must compare in UTC
        "text": (BASE + timedelta(minutes=minute)).astimezone(timezone(timedelta(hours=offset_hours)))
                .isoformat() if offset_hours else (BASE + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S"),
        "amount": amount, "user": f"u{user}", "valid": True},
    key=st.integers(0, 5), minute=st.integers(0, 30), offset_hours=st.sampled_from([0, 0, 1, -5]),
    amount=st.integers(0, 1000), user=st.integers(0, 3))

invalid_record = st.sampled_from([
    {"key": "k1", "text": "2025-02-30T00:00:00", "amount": 1, "user": "u", "valid": False},
    {"key": "k2", "text": "2025-01-01T00:10:00", "amount": "abc", "user": "u", "valid": False},
    {"key": "", "text": "2025-01-01T00:10:00", "amount": 1, "user": "u", "valid": False},
    {"key": "k3", "text": "2099-01-01T00:00:00", "amount": 1, "user": "u", "valid": False},  # future
])

batches = st.lists(st.lists(st.one_of(valid_record, valid_record, valid_record, invalid_record), max_size=12),
                   min_size=1, max_size=4)

# prices: some valid records are deletions (op D, no price), and an op can be wrong
deletion = valid_record.map(lambda r: {**r, "op": "D"})
invalid_op = st.sampled_from([
    {"key": "k4", "text": "2025-01-01T00:05:00", "amount": 1, "user": "u", "valid": False, "op": "d"},
    {"key": "k5", "text": "2025-01-01T00:05:00", "amount": 1, "user": "u", "valid": False, "op": ""},
])
batches_with_deletes = st.lists(
    st.lists(st.one_of(valid_record, valid_record, deletion, deletion, invalid_record, invalid_op), max_size=12),
    min_size=1, max_size=4)


class Model:
    def __init__(self, key=lambda k: k):
        self.rows: dict = {}        # key -> (event_ts, user_id, amount)
        self.tombstones: dict = {}  # key -> the version of its newest deletion (while it has no row)
        self.watermark = None
        self.key = key              # the key's text form in the feed

    def run(self, batch) -> dict:
        counts = dict.fromkeys(("rejected", "skipped", "superseded", "stale", "loaded", "deleted"), 0)
        survivors: dict = {}
        for position, r in enumerate(batch):
            if not r["valid"]:
                counts["rejected"] += 1
            elif self.watermark is not None and r["utc"] < self.watermark:
                counts["skipped"] += 1
            else:
                if r["key"] in survivors:
                    counts["superseded"] += 1
                best = survivors.get(r["key"])
                if best is None or (r["utc"], position) > (best[0]["utc"], best[1]):
                    survivors[r["key"]] = (r, position)
        for r, _ in survivors.values():
            key = self.key(r["key"])
            stored = self.rows[key][0] if key in self.rows else self.tombstones.get(key)
            if stored is not None and stored >= r["utc"]:
                counts["stale"] += 1
                continue
            if r.get("op") == "D":
                self.rows.pop(key, None)
                self.tombstones[key] = r["utc"]
                counts["deleted"] += 1
            else:
                self.rows[key] = (r["utc"], r["user"], r["amount"])
                self.tombstones.pop(key, None)
                counts["loaded"] += 1
            self.watermark = max(self.watermark or r["utc"], r["utc"])
        return counts


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_loader_matches_the_model(engine, feed, request, data):
    shape = FEEDS[feed]
    runs = data.draw(batches_with_deletes if feed == "prices" else batches)
    model = Model(shape.key)
    with tempfile.TemporaryDirectory() as tmp:
        loader = make_loader(engine, Path(tmp), request, feed)  # a fresh database for every example
        for batch in runs:
            lines = [shape.line(r["key"], r["text"], r["user"], r["amount"], r["op"]) if "op" in r
                     else loader.line(r["key"], r["text"], r["user"], r["amount"]) for r in batch]
            summary = loader.load(*lines, now="2025-03-01T00:00:00")   # also checks the accounting
            expected = model.run(batch)
            assert {k: summary[k] for k in expected} == expected
            assert loader.events() == {key: shape.stored(*row) for key, row in model.rows.items()}
            assert summary["watermark"] == model.watermark
            if feed == "prices":
                assert dict(loader.rows("select key, version from tombstone")) == model.tombstones
