"""Property test: random batches, several runs in a row, compared after every run with a small
independent model of the documented semantics:

- an invalid record is rejected;
- a valid record older than the watermark is skipped;
- of the rest, one per key survives: the newest event_ts, a tie to the later line (superseded);
- the survivor replaces the stored row only if it is strictly newer (else stale);
- the watermark moves to the newest event_ts loaded, never backwards.
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


class Model:
    def __init__(self, key=lambda k: k):
        self.rows: dict = {}        # key -> (event_ts, user_id, amount)
        self.watermark = None
        self.key = key              # the key's text form in the feed

    def run(self, batch) -> dict:
        counts = dict.fromkeys(("rejected", "skipped", "superseded", "stale", "loaded"), 0)
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
            stored = self.rows.get(self.key(r["key"]))
            if stored is not None and stored[0] >= r["utc"]:
                counts["stale"] += 1
            else:
                self.rows[self.key(r["key"])] = (r["utc"], r["user"], r["amount"])
                counts["loaded"] += 1
                self.watermark = max(self.watermark or r["utc"], r["utc"])
        return counts


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(runs=batches)
def test_the_loader_matches_the_model(engine, feed, request, runs):
    model = Model(FEEDS[feed].key)
    with tempfile.TemporaryDirectory() as tmp:
        loader = make_loader(engine, Path(tmp), request, feed)  # a fresh database for every example
        for batch in runs:
            lines = [loader.line(r["key"], r["text"], r["user"], r["amount"]) for r in batch]
            summary = loader.load(*lines, now="2025-03-01T00:00:00")   # also checks the accounting
            expected = model.run(batch)
            assert {k: summary[k] for k in expected} == expected
            assert loader.events() == model.rows
            assert summary["watermark"] == model.watermark
