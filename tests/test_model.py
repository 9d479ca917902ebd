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
newer than the tombstone brings the key back. Batches are sent again, as they were or re-issued
with restated amounts, with or without a lookback: a record at the stored version with the same
values is stale; with other values it is differing, unless the feed applies corrections (prices)
and its file's content was first loaded later than the stored row's (a later delivery): corrected.
staged = loaded + deleted + skipped + stale + differing + superseded.
The prices feed keeps a version history (history = 'on'): every version received (neither rejected
nor skipped), one per key and version (the last line; at a version received before, a later
delivery's other values replace it), folded in version order into windows that open where the
values change or after a deletion and close at a deletion; compared with prices_history, whose
invariants (no overlap, one current window, the target's row) are checked with SQL after every run.
"""

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from conftest import ENGINES, FEEDS, make_loader
from test_version_history import assert_history_invariants

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
    def __init__(self, key=lambda k: k, values=lambda user, amount: (user, amount), apply=False):
        self.rows: dict = {}        # key -> (event_ts, user_id, amount, delivery)
        self.tombstones: dict = {}  # key -> (the version of its newest deletion, delivery), while it has no row
        self.watermark = None
        self.key = key              # the key's text form in the feed
        self.values = values        # what the target keeps of a record besides key and timestamp
        self.apply = apply          # corrections = 'apply': the later delivery wins at an equal version
        self.deliveries: dict = {}  # a file's content -> its delivery, numbered as first loaded
        self.versions: dict = {}    # key -> {version: (delivery, deletion, values)}: every one received

    def receive(self, batch, delivery: int, lookback: bool) -> None:
        """The version history's input: each received version, the last line of a key's version."""
        last: dict = {}
        for r in batch:
            if r["valid"] and (lookback or self.watermark is None or r["utc"] >= self.watermark):
                last[(self.key(r["key"]), r["utc"])] = r
        for (key, version), r in last.items():
            new = (delivery, r.get("op") == "D", None if r.get("op") == "D" else self.values(r["user"], r["amount"]))
            known = self.versions.setdefault(key, {}).get(version)
            if known is None or (self.apply and delivery > known[0] and known[1:] != new[1:]):
                self.versions[key][version] = new

    def history(self) -> set:
        """(key, valid_from, valid_to, values): loading every version one at a time in version order."""
        windows = set()
        for key, versions in self.versions.items():
            current = None  # (valid_from, values) of the open window
            for version in sorted(versions):
                _, deletion, values = versions[version]
                if current is not None and (deletion or values != current[1]):
                    windows.add((key, current[0], version, current[1]))
                    current = None
                if not deletion and current is None:
                    current = (version, values)
            if current is not None:
                windows.add((key, current[0], None, current[1]))
        return windows

    def run(self, batch, content, lookback: bool = False) -> dict:
        delivery = self.deliveries.setdefault(content, len(self.deliveries) + 1)
        self.receive(batch, delivery, lookback)
        counts = dict.fromkeys(("rejected", "skipped", "superseded", "stale", "differing", "loaded", "corrected",
                                "deleted"), 0)
        survivors: dict = {}
        for position, r in enumerate(batch):
            if not r["valid"]:
                counts["rejected"] += 1
            elif not lookback and self.watermark is not None and r["utc"] < self.watermark:
                counts["skipped"] += 1
            else:
                if r["key"] in survivors:
                    counts["superseded"] += 1
                best = survivors.get(r["key"])
                if best is None or (r["utc"], position) > (best[0]["utc"], best[1]):
                    survivors[r["key"]] = (r, position)
        for r, _ in survivors.values():
            key, deletion = self.key(r["key"]), r.get("op") == "D"
            row, tombstone = self.rows.get(key), self.tombstones.get(key)
            stored = (row[0], row[3]) if row else tombstone  # (version, delivery)
            correction = False
            if stored is not None and stored[0] > r["utc"]:
                counts["stale"] += 1
                continue
            if stored is not None and stored[0] == r["utc"]:
                same = (not deletion and self.values(row[1], row[2]) == self.values(r["user"], r["amount"])) \
                    if row else deletion
                if same:
                    counts["stale"] += 1
                    continue
                if not (self.apply and delivery > stored[1]):
                    counts["differing"] += 1
                    continue
                correction = True
            if deletion:
                self.rows.pop(key, None)
                self.tombstones[key] = (r["utc"], delivery)
                counts["deleted"] += 1
            else:
                self.rows[key] = (r["utc"], r["user"], r["amount"], delivery)
                self.tombstones.pop(key, None)
                counts["loaded"] += 1
                counts["corrected"] += correction
            self.watermark = max(self.watermark or r["utc"], r["utc"])
        return counts


def reissued(base: list, changed: list) -> list:
    """A batch sent again: the same records, some upserts with another amount (a restatement)."""
    return [{**r, "amount": r["amount"] + 1} if flip and r["valid"] and r.get("op") != "D" else r
            for r, flip in zip(base, changed)]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=6, deadline=None,  # (six combinations of feed and engine: 36 examples in all)
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_loader_matches_the_model(engine, feed, request, data):
    shape = FEEDS[feed]
    one_batch = (batches_with_deletes if feed == "prices" else batches).map(lambda runs: runs[0])
    model = Model(shape.key, values=lambda user, amount: shape.stored(None, user, amount)[1:],
                  apply=feed == "prices")  # (the shipped prices feed applies corrections)
    with tempfile.TemporaryDirectory() as tmp:
        loader = make_loader(engine, Path(tmp), request, feed)  # a fresh database for every example
        sent: list = []
        for _ in range(data.draw(st.integers(1, 4), label="runs")):
            # a new batch, or one sent before: again, or re-issued with restated amounts
            if sent and data.draw(st.booleans(), label="sent before"):
                base = data.draw(st.sampled_from(sent), label="which")
                batch = reissued(base, data.draw(st.lists(st.booleans(), min_size=len(base), max_size=len(base)),
                                                 label="restated"))
            else:
                batch = data.draw(one_batch, label="batch")
            sent.append(batch)
            lookback = data.draw(st.booleans(), label="lookback")  # (a day: nothing is skipped)
            lines = [shape.line(r["key"], r["text"], r["user"], r["amount"], r["op"]) if "op" in r
                     else loader.line(r["key"], r["text"], r["user"], r["amount"]) for r in batch]
            summary = loader.load(*lines, now="2025-03-01T00:00:00",   # also checks the accounting
                                  **({"args": ("--lookback", "1d")} if lookback else {}))
            expected = model.run(batch, tuple(lines), lookback)
            assert {k: summary[k] for k in expected} == expected
            assert loader.events() == {key: shape.stored(*row[:3]) for key, row in model.rows.items()}
            assert summary["watermark"] == model.watermark
            if feed == "prices":
                assert dict(loader.rows("select key, version from tombstone")) == {
                    key: version for key, (version, _) in model.tombstones.items()}
                held = loader.rows("select store_id, sku, valid_from, valid_to, price from prices_history")
                assert {(shape.key(sku), valid_from, valid_to, (price,)) for _, sku, valid_from, valid_to, price
                        in held} == model.history()
                assert_history_invariants(loader)
