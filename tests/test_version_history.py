"""Version history (issue 23): a feed that declares history = 'on' keeps every version it receives in
<target>_history, valid_from to valid_to, and the history equals loading every received version one
at a time in version order, whatever order they arrive in: equal versions sent again make no row, a
late version splits the window it falls in (whose later versions come back), a deletion closes the
window its version falls in, a later delivery's correction changes its version's values. Run through
the CLI on both engines with the shipped feed prices (sql/feeds/prices.sql), which turns it on."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ENGINES, make_loader

HEADER = "store_id,sku,updated_at,price,op\n"


def T(day: int, hour: int = 0) -> str:
    """A January 2025 timestamp, as the loader stores it (the runs' clock is 2025-02-01)."""
    return f"2025-01-{day:02d}T{hour:02d}:00:00"


def up(sku: str, ts: str, price="1.5", store: str = "S1") -> str:
    return f"{store},{sku},{ts},{price},U"


def rm(sku: str, ts: str, store: str = "S1") -> str:
    return f"{store},{sku},{ts},,D"


def key(sku: str, store: str = "S1") -> str:
    return json.dumps([store, sku], separators=(",", ":"))


@pytest.fixture(params=ENGINES)
def prices(request, tmp_path):
    """A fresh database on each engine, for the shipped feed prices (history = 'on', corrections
    = 'apply'), with its own copy of sql/."""
    loader = make_loader(request.param, tmp_path, request, "prices")
    loader.copy_sql()
    return loader


def load(loader, *lines, args=(), code=0):
    result = loader.run(loader.batch(*lines, header=HEADER), *args)
    assert result.code == code, result.stderr
    return result


def windows(loader, sku: str = "apple", store: str = "S1") -> list[tuple]:
    """The key's windows, oldest first: (valid_from, valid_to, price)."""
    return [(f, t, float(p)) for f, t, p in loader.rows(
        "select valid_from, valid_to, price from prices_history where store_id = ? and sku = ? "
        "order by valid_from", store, sku)]


def assert_history_invariants(loader, table: str = "prices_history", target: str = "prices") -> None:
    """What the database does not enforce by itself, checked with SQL: windows of a key never
    overlap and end after they start; a key has a current window exactly when the target holds it,
    with its values, opened at or before the target's version."""
    overlapping = loader.rows(
        f"select a.store_id, a.sku, a.valid_from, b.valid_from from {table} as a join {table} as b "
        "on a.store_id = b.store_id and a.sku = b.sku and a.valid_from < b.valid_from "
        "and (a.valid_to is null or a.valid_to > b.valid_from)")
    assert overlapping == []
    assert loader.rows(f"select valid_from, valid_to from {table} where valid_to <= valid_from") == []
    unmatched = loader.rows(
        f"select coalesce(t.store_id, h.store_id), coalesce(t.sku, h.sku) from {target} as t "
        f"full outer join (select * from {table} where valid_to is null) as h "
        "on h.store_id = t.store_id and h.sku = t.sku "
        "where t.store_id is null or h.store_id is null or h.price <> t.price or h.valid_from > t.updated_at")
    assert unmatched == []


def effects(loader, run_id: int) -> list[tuple]:
    """(line_no, step, what it did to the history) of a run's records, in input order."""
    found = []
    for line_no, step, detail in loader.rows(
            "select line_no, step, detail from lineage where run_id = ? and step <> 'staged' order by lineage_id",
            run_id):
        match = re.search(r"history: (\w+)$", detail or "")
        found.append((line_no, step, match.group(1) if match else None))
    return found


# ---------------------------------------------------------------------------------------------
# the rule


def test_a_window_changes_only_when_the_values_do(prices):
    """A feed that re-sends every key daily grows a row per change, not per day; the window
    carries the version that opened it; the summary and run_log count what opened."""
    first = load(prices, up("apple", T(1), "1.5"), up("pear", T(1), "2"))
    assert first.summary["history_opened"] == 2
    again = load(prices, up("apple", T(2), "1.5"), up("pear", T(2), "2"))
    assert (again.summary["history_opened"], again.summary["loaded"]) == (0, 2)
    load(prices, up("apple", T(3), "1.50"), up("pear", T(3), "2.5"))   # 1.50 is 1.5: equal typed values
    assert windows(prices) == [(T(1), None, 1.5)]
    assert windows(prices, "pear") == [(T(1), T(3), 2.0), (T(3), None, 2.5)]
    assert prices.rows("select updated_at, run_id, line_no from prices_history where sku = 'pear' "
                       "order by valid_from") == [(T(1), 1, 3), (T(3), 3, 3)]
    assert prices.rows("select history_opened, history_split, history_closed from run_log order by run_id") == [
        (2, 0, 0), (0, 0, 0), (1, 0, 0)]
    assert "version history: 1 opened, 0 split, 0 closed" in prices.run(
        prices.batch(up("fig", T(4)), header=HEADER)).stderr
    assert_history_invariants(prices)


def test_a_late_version_splits_its_window_and_the_later_versions_come_back(prices):
    """Versions 1, 3 and 5 at one price make one window; a version at 2 with another price, arriving
    last, splits it: 1-2 the old price, 2-3 the new, and from 3 the old price again, with version
    3's own provenance. Stale against the target, it is received all the same."""
    load(prices, up("apple", T(1), "1.5"))
    load(prices, up("apple", T(3), "1.5"))
    load(prices, up("apple", T(5), "1.5"))
    assert windows(prices) == [(T(1), None, 1.5)]
    late = load(prices, up("apple", T(2), "9"), args=("--lookback", "30d"))
    assert late.summary["stale"] == 1 and late.summary["history_split"] == 1
    assert windows(prices) == [(T(1), T(2), 1.5), (T(2), T(3), 9.0), (T(3), None, 1.5)]
    assert prices.rows("select run_id from prices_history where valid_from = ?", T(3)) == [(2,)]
    assert effects(prices, late.summary["run_id"]) == [(2, "stale", "split")]
    assert prices.rows("select detail from lineage where run_id = ? and step = 'stale'",
                       late.summary["run_id"])[0][0].endswith("; history: split")
    # the same late version again changes nothing; one at the window's price merges into it
    again = load(prices, up("apple", T(2), "9"), args=("--lookback", "30d"))
    assert (again.summary["history_split"], again.summary["history_opened"]) == (0, 0)
    load(prices, up("apple", T(4), "1.5"), args=("--lookback", "30d"))
    assert windows(prices) == [(T(1), T(2), 1.5), (T(2), T(3), 9.0), (T(3), None, 1.5)]
    assert_history_invariants(prices)


def test_versions_in_any_order_give_the_same_history(prices, tmp_path, request):
    """The same versions loaded newest first, one run each, and in version order in one file."""
    versions = [up("apple", T(1), "1"), up("apple", T(2), "2"), up("apple", T(3), "2"), rm("apple", T(4)),
                up("apple", T(5), "2"), up("apple", T(6), "1")]
    for line in reversed(versions):
        load(prices, line, args=("--lookback", "30d"))
    in_order = make_loader(prices.engine, tmp_path / "in_order", request, "prices")
    (tmp_path / "in_order").mkdir(exist_ok=True)
    in_order.copy_sql()
    load(in_order, *versions)
    expected = [(T(1), T(2), 1.0), (T(2), T(4), 2.0), (T(5), T(6), 2.0), (T(6), None, 1.0)]
    assert windows(prices) == windows(in_order) == expected
    assert_history_invariants(prices)
    assert_history_invariants(in_order)


def test_a_deletion_closes_the_window_its_version_falls_in(prices):
    """At its version, even when it arrives late; an upsert older than the deletion (which the target
    keeps out) still opens its window before it; a deletion no window covers, or repeating one, is
    stale for the history."""
    load(prices, up("apple", T(1), "1"), up("apple", T(5), "2"))
    gone = load(prices, rm("apple", T(7)))
    assert gone.summary["history_closed"] == 1 and effects(prices, gone.summary["run_id"]) == [
        (2, "deleted", "closed")]
    assert windows(prices) == [(T(1), T(5), 1.0), (T(5), T(7), 2.0)]
    late = load(prices, rm("apple", T(3)), args=("--lookback", "30d"))
    assert late.summary["stale"] == 1 and late.summary["history_closed"] == 1
    assert windows(prices) == [(T(1), T(3), 1.0), (T(5), T(7), 2.0)]
    older = load(prices, up("apple", T(6), "3"), args=("--lookback", "30d"))
    assert older.summary["stale"] == 1     # the tombstone at T(7) keeps it out of the target
    assert windows(prices) == [(T(1), T(3), 1.0), (T(5), T(6), 2.0), (T(6), T(7), 3.0)]
    again = load(prices, rm("apple", T(8)), rm("pear", T(8)))
    assert again.summary["history_closed"] == 0 and effects(prices, again.summary["run_id"]) == [
        (2, "deleted", None), (3, "deleted", None)]
    assert prices.rows("select count(*) from prices_history where sku = 'pear'") == [(0,)]
    back = load(prices, up("apple", T(9), "2"))
    assert back.summary["history_opened"] == 1
    assert windows(prices)[-1] == (T(9), None, 2.0)
    assert_history_invariants(prices)


def test_a_correction_changes_its_versions_values_splitting_and_merging(prices, tmp_path):
    """corrections = 'apply': a later delivery at an equal version with other values replaces that
    version's values; loading the earlier delivery again changes nothing."""
    first = prices.batch(up("apple", T(1), "1"), up("apple", T(2), "1"), up("apple", T(3), "1"), header=HEADER)
    assert prices.run(first).code == 0
    assert windows(prices) == [(T(1), None, 1.0)]
    reissue = prices.batch(up("apple", T(2), "7"), header=HEADER)
    corrected = prices.run(reissue, "--lookback", "30d")
    assert corrected.code == 0 and corrected.summary["history_split"] == 1
    assert windows(prices) == [(T(1), T(2), 1.0), (T(2), T(3), 7.0), (T(3), None, 1.0)]
    assert prices.run(first, "--lookback", "30d").code == 0      # the earlier delivery: no change
    assert windows(prices) == [(T(1), T(2), 1.0), (T(2), T(3), 7.0), (T(3), None, 1.0)]
    back = prices.batch(up("apple", T(2), "1"), up("pear", T(2), "1"), header=HEADER)
    assert prices.run(back, "--lookback", "30d").code == 0       # a later delivery restores it: merged
    assert windows(prices) == [(T(1), None, 1.0)]
    assert_history_invariants(prices)


def test_the_database_enforces_one_row_per_version_and_one_current_row(prices):
    load(prices, up("apple", T(1), "1"), up("apple", T(2), "2"))
    for sql in ("insert into prices_history select * from prices_history where valid_to is not null",
                "insert into prices_history select store_id, sku, updated_at, price, run_id, source, line_no, "
                "'2025-01-09T00:00:00', null from prices_history where valid_to is null"):
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            prices.rows(sql)


# ---------------------------------------------------------------------------------------------
# turning it on, reading it, keeping it


def test_turned_on_for_a_feed_with_data_it_starts_from_the_targets_rows(prices):
    """Loaded with history off, then on: the history starts from what prices holds (said on stderr).
    Loaded again with it off, then on: a hole, refused with the SQL that drops it; dropped, it
    starts afresh."""
    definition = prices.sql_dir / "feeds" / "prices.sql"
    on = definition.read_text()
    off = on.replace("'on'                                      as history", "'off' as history")
    off = off[:off.index("-- section: history")] + off[off.index("-- section: trace"):]
    definition.write_text(off)
    load(prices, up("apple", T(1), "1"), up("pear", T(1), "2"), rm("pear", T(2)))
    definition.write_text(on)
    started = load(prices, up("apple", T(3), "3"))
    assert "version history of prices started in prices_history from the 1 rows prices held after run 1" \
        in started.stderr
    assert windows(prices) == [(T(1), T(3), 1.0), (T(3), None, 3.0)]
    definition.write_text(off)
    load(prices, up("apple", T(4), "4"))
    definition.write_text(on)
    refused = prices.run(prices.batch(up("apple", T(5), "5"), header=HEADER))
    assert refused.code == 2 and "has a hole" in refused.stderr
    drop = re.search(r"(sqlite3|psql) .*drop table prices_history.*", refused.stderr).group(0)
    assert prices.rows("select count(*) from prices_history") == [(2,)]   # nothing changed
    prices.rows("drop table prices_history")
    assert "drop table prices_history" in drop
    restarted = load(prices, up("apple", T(5), "5"))
    assert "started in prices_history from the 1 rows" in restarted.stderr
    assert windows(prices) == [(T(4), T(5), 4.0), (T(5), None, 5.0)]
    assert_history_invariants(prices)


def test_a_history_whose_columns_differ_from_the_target_is_refused(prices):
    load(prices, up("apple", T(1), "1"))
    prices.rows("alter table prices add column currency text")
    refused = prices.run(prices.batch(up("apple", T(2), "2"), header=HEADER))
    assert refused.code == 2
    assert "prices_history does not have prices's columns plus valid_from and valid_to (it lacks currency)" \
        in refused.stderr and "alter table prices_history add column" in refused.stderr


def test_a_definition_with_history_on_needs_its_section(prices):
    definition = prices.sql_dir / "feeds" / "prices.sql"
    text = definition.read_text()
    definition.write_text(text[:text.index("-- section: history")] + text[text.index("-- section: trace"):])
    refused = prices.run(prices.batch(up("apple", T(1)), header=HEADER))
    assert refused.code == 2 and "declares history = 'on', but has no '-- section: history'" in refused.stderr
    definition.write_text(text.replace("'on'                                      as history", "'off' as history"))
    refused = prices.run(prices.batch(up("apple", T(1)), header=HEADER))
    assert refused.code == 2 and "has a history section but declares no history" in refused.stderr


def test_trace_lists_the_versions_and_prune_never_touches_them(prices):
    load(prices, up("apple", T(1), "1"), up("apple", T(2), "2"))
    load(prices, up("apple", T(3), "3"))
    trace = prices.run("--trace", key("apple"), now="2025-02-01T00:00:01")
    assert trace.code == 0, trace.stderr
    assert [line for line in trace.stdout.splitlines() if T(1) in line or T(2) in line][:2]
    before = windows(prices)
    pruned = prices.run("--prune-history", "1s", now="2025-02-03T00:00:00")
    assert pruned.code == 0, pruned.stderr
    assert windows(prices) == before
    assert prices.rows("select count(*) from received_version") == [(3,)]
