"""Deletes carried in the feed (issue 21): a feed that declares deletes = 'hard' removes the row of a
key a newer deletion names, one that declares 'soft' marks it; every applied deletion is remembered
in tombstone, so an older record of the key arriving later (a late file, --lookback, a replayed dead
letter) stays out, and a newer one brings the key back. Run through the CLI on both engines with the
shipped feed prices (sql/feeds/prices.sql) and, for soft deletes, a small definition of our own."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ENGINES, ROOT, TARGET_DETAIL, make_loader

HEADER = "store_id,sku,updated_at,price,op\n"
PRICES_SQL = ROOT / "sql" / "feeds" / "prices.sql"
PRICES_SAMPLE = ROOT / "data" / "prices_sample.csv"


def T(day: int, hour: int = 0) -> str:
    """A January 2025 timestamp, as the loader stores it (the runs' clock is 2025-02-01)."""
    return f"2025-01-{day:02d}T{hour:02d}:00:00"


def up(sku: str, ts: str, price="1.5", store: str = "S1", op: str = "U") -> str:
    return f"{store},{sku},{ts},{price},{op}"


def rm(sku: str, ts: str, store: str = "S1", price: str = "") -> str:
    return f"{store},{sku},{ts},{price},D"


def key(sku: str, store: str = "S1") -> str:
    """The key's text form, as tombstone, lineage and --trace have it."""
    return json.dumps([store, sku], separators=(",", ":"))


@pytest.fixture(params=ENGINES)
def prices(request, tmp_path):
    """A fresh database on each engine, for the feed prices as it is but for corrections =
    'report': a record at the stored version is stale or differing, never applied (applying a
    later delivery's is tests/test_corrections.py's)."""
    loader = make_loader(request.param, tmp_path, request, "prices")
    definition = loader.copy_sql() / "feeds" / "prices.sql"
    applying = re.compile(r"'apply'(\s+)as corrections")
    assert applying.search(definition.read_text())
    definition.write_text(applying.sub(r"'report'\1as corrections", definition.read_text()))
    return loader


# ---------------------------------------------------------------------------------------------
# reading the database back


def rows(loader, target: str = "prices") -> dict:
    """key -> (updated_at, price, run_id, line_no)"""
    return {key(r[1], r[0]): tuple(r[2:]) for r in loader.rows(
        f"select store_id, sku, updated_at, price, run_id, line_no from {target}")}


def tombstones(loader, feed: str = "prices") -> dict:
    """key -> (version, run_id, source, line_no)"""
    return {r[0]: tuple(r[1:]) for r in loader.rows(
        "select key, version, run_id, source, line_no from tombstone where feed = ?", feed)}


def outcomes(loader, run_id: int) -> list[tuple]:
    """(line_no, key, step, detail) of every record's outcome in a run, in input order."""
    return loader.rows(f"select line_no, event_id, step, {TARGET_DETAIL} from lineage where run_id = ? "
                       "and step <> 'staged' order by lineage_id", run_id)


def watermark(loader, feed: str = "prices"):
    return loader.rows("select value from watermark where feed = ?", feed)[0][0]


COUNTS = ("input_records", "staged", "rejected", "loaded", "inserted", "updated", "corrected", "deleted", "skipped",
          "stale", "differing", "superseded", "late_skipped", "dead_letters", "dead_letters_repeated",
          "dead_letters_resolved", "lineage_entries")


def checked(loader, result, *sources) -> dict:
    """A run that must succeed; its accounting checked on the summary, in run_log, in lineage and
    on the stderr line. Returns the summary."""
    assert result.code == 0, result.stderr
    s = result.summary
    assert s["status"] == "succeeded"
    assert s["staged"] == s["loaded"] + s["deleted"] + s["skipped"] + s["stale"] + s["differing"] + s["superseded"]
    assert s["input_records"] == s["staged"] + s["rejected"]
    assert s["loaded"] == s["inserted"] + s["updated"] + s["corrected"]
    assert s["rejected"] == s["dead_letters"] + s["dead_letters_repeated"]
    # run_log holds the same counts, and the identity holds there too
    logged = dict(zip(COUNTS, loader.rows(f"select {', '.join(COUNTS)} from run_log where run_id = ?",
                                          s["run_id"])[0]))
    assert logged == {c: s[c] for c in COUNTS}
    assert logged["staged"] == (logged["loaded"] + logged["deleted"] + logged["skipped"] + logged["stale"]
                                + logged["differing"] + logged["superseded"])
    # lineage: one entry per record and step (staged + its outcome, or rejected), as counted
    steps = dict(loader.rows("select step, count(*) from lineage where run_id = ? group by step", s["run_id"]))
    for step in ("loaded", "deleted", "skipped", "stale", "differing", "superseded", "rejected"):
        assert steps.get(step, 0) == s[step], (step, steps)
    assert steps.get("staged", 0) == s["staged"]
    assert sum(steps.values()) == s["lineage_entries"]
    assert dict(loader.rows(f"select {TARGET_DETAIL}, count(*) from lineage where run_id = ? and step = 'loaded' "
                            "group by 1", s["run_id"])) == {
        d: n for d, n in (("inserted", s["inserted"]), ("updated", s["updated"]), ("corrected", s["corrected"])) if n}
    # and whatever conftest checks of every run (each line accounted for, rejects filed)
    if sources:
        loader.assert_accounted(s, {str(p): set(range(2, 2 + len(p.read_text().splitlines()) - 1))
                                    for p in sources})
    # the line for people says how many were deleted, when any were (and never more than were)
    line = next(x for x in result.stderr.splitlines() if x.startswith(f"run {s['run_id']} "))
    # (every feed here declares deletes: it says how many, 0 too)
    assert re.findall(r"(\d+) deleted", line) == [str(s["deleted"])], line
    return s


def load(loader, *lines: str, args=(), **kwargs) -> dict:
    path = loader.batch(*lines, header=HEADER)
    return checked(loader, loader.run(path, *args, **kwargs), path)


def stale_row(ts: str) -> str:
    return f"prices already holds a version from {ts}"


def parallel(*calls):
    """Run independent CLI calls (each a (function, args...) tuple) at once: they change nothing."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda call: call[0](*call[1:]), calls))


# ---------------------------------------------------------------------------------------------
# 1. a deletion newer than the stored row removes it; an older or equal one is stale


def test_a_newer_delete_removes_the_row_an_older_or_equal_one_is_stale(prices):
    first = load(prices, up("k1", T(10), "1.5"), up("k2", T(10), "2.5"), up("k3", T(10), "3.5"))
    assert (first["inserted"], first["deleted"]) == (3, 0)
    batch = prices.batch(f"S1,k1,{T(11)},not a price, D ",   # op trimmed; a deletion's price is not read
                         rm("k2", T(10)), rm("k3", T(9)),
                         up("k2", T(12), "2.5", op="d"),       # op is case-sensitive: rejected
                         up("k3", T(12), ""),                  # an upsert needs its price
                         header=HEADER)
    before = (rows(prices), watermark(prices))
    dry = prices.run(batch, "--lookback", "2d", "--dry-run")
    assert dry.code == 0 and dry.summary["deleted"] == 1, dry.stderr
    assert (rows(prices), watermark(prices), tombstones(prices)) == (*before, {})  # a dry run keeps nothing

    s = checked(prices, prices.run(batch, "--lookback", "2d"), batch)

    # (k2: a deletion at the stored version differs from the row: not applied, corrections = 'report')
    assert (s["deleted"], s["stale"], s["differing"], s["loaded"], s["skipped"], s["rejected"]) == (1, 1, 1, 0, 0, 2)
    assert rows(prices) == {key("k2"): (T(10), 2.5, 1, 3), key("k3"): (T(10), 3.5, 1, 4)}
    assert s["run_id"] == 2  # (the dry run kept not even its run)
    assert tombstones(prices) == {key("k1"): (T(11), 2, str(batch), 2)}
    assert outcomes(prices, 2) == [(2, key("k1"), "deleted", "removed"),
                                   (3, key("k2"), "differing", f"prices holds other values at {T(10)}, from run 1"),
                                   (4, key("k3"), "stale", stale_row(T(10))),
                                   (5, key("k2"), "rejected", "op is not I, U or D: d"),
                                   (6, key("k3"), "rejected", "price is missing")]
    assert watermark(prices) == T(11)  # an applied deletion advances the watermark
    assert prices.rows("select run_id, deleted from run_log order by run_id") == [(1, 0), (2, 1)]


# ---------------------------------------------------------------------------------------------
# 2 and 5. an older record arriving after a deletion stays out (of a key held, or never held);
#    a newer one brings the key back


def test_a_late_older_upsert_stays_deleted_and_a_newer_one_recreates_the_key(prices):
    load(prices, up("k1", T(10)), up("k2", T(10)))
    b2 = prices.tmp / "batch2.csv"
    deleted = load(prices, rm("k1", T(12)), rm("k2", T(12)), rm("k3", T(12)))  # k3: never held
    assert (deleted["deleted"], rows(prices)) == (3, {})
    assert outcomes(prices, 2) == [(2, key("k1"), "deleted", "removed"), (3, key("k2"), "deleted", "removed"),
                                   (4, key("k3"), "deleted", "no row")]
    assert tombstones(prices) == {key(k): (T(12), 2, str(b2), n) for k, n in (("k1", 2), ("k2", 3), ("k3", 4))}
    assert watermark(prices) == T(12)

    # reconsidered with --lookback: stale against the tombstone, older or as old
    again = load(prices, up("k1", T(11), "7.5"), up("k2", T(12), "8.5"), up("k3", T(11), "9.5"),
                 args=("--lookback", "5d"))
    # (k2, at the deletion's version: other content, not applied)
    assert (again["loaded"], again["stale"], again["differing"], again["deleted"]) == (0, 2, 1, 0)
    assert outcomes(prices, 3) == [(2, key("k1"), "stale", f"deleted at {T(12)} by run 2"),
                                   (3, key("k2"), "differing", f"deleted at {T(12)} by run 2"),
                                   (4, key("k3"), "stale", f"deleted at {T(12)} by run 2")]
    assert prices.rows("select count(*) from prices") == [(0,)]  # nothing made, no row of NULLs
    assert len(tombstones(prices)) == 3

    # a newer upsert brings k1 back; a newer deletion of k2 (held no more) moves its tombstone
    newer = load(prices, up("k1", T(13), "9.5"), rm("k2", T(14)))
    assert (newer["inserted"], newer["updated"], newer["deleted"]) == (1, 0, 1)
    assert outcomes(prices, 4) == [(2, key("k1"), "loaded", "inserted"), (3, key("k2"), "deleted", "no row")]
    assert rows(prices) == {key("k1"): (T(13), 9.5, 4, 2)}
    assert tombstones(prices) == {key("k2"): (T(14), 4, str(prices.tmp / "batch4.csv"), 3),
                                  key("k3"): (T(12), 2, str(b2), 4)}
    assert watermark(prices) == T(14)


# ---------------------------------------------------------------------------------------------
# 3. an upsert and a deletion of one key in one batch: the newest wins, a tie goes to the later
#    line, and across files on one command line to the later file


def test_upsert_and_delete_of_one_key_in_one_batch(prices):
    keys = "abcdefgh"
    load(prices, *(up(k, T(5), "0.5") for k in keys))
    first = prices.batch(
        up("a", T(10), "1.5"), rm("a", T(11)),      # 2, 3: the newer deletion, after
        rm("b", T(11)), up("b", T(10), "1.5"),      # 4, 5: the newer deletion, before
        up("c", T(11), "3.5"), rm("c", T(10)),      # 6, 7: the newer upsert, before
        rm("d", T(10)), up("d", T(11), "4.5"),      # 8, 9: the newer upsert, after
        up("e", T(10), "5.5"), rm("e", T(10)),      # 10, 11: a tie, the deletion later
        rm("f", T(10)), up("f", T(10), "6.5"),      # 12, 13: a tie, the upsert later
        up("g", T(10), "7.5"),                      # 14: a tie with the next file's deletion
        rm("h", T(10)),                             # 15: a tie with the next file's upsert
        # keys the target does not hold: the deletion that wins makes only a tombstone
        up("n1", T(10), "1.5"), rm("n1", T(11)),    # 16, 17
        rm("n2", T(10)), up("n2", T(10), "2.5"),    # 18, 19
        up("n3", T(10), "3.5"), rm("n3", T(10)),    # 20, 21
        header=HEADER)
    second = prices.batch(rm("g", T(10)), up("h", T(10), "8.5"), header=HEADER)

    s = checked(prices, prices.run(first, second), first, second)

    assert (s["staged"], s["inserted"], s["updated"], s["deleted"], s["superseded"], s["stale"]) == (
        22, 1, 4, 6, 11, 0)
    assert rows(prices) == {key("c"): (T(11), 3.5, 2, 6), key("d"): (T(11), 4.5, 2, 9),
                            key("f"): (T(10), 6.5, 2, 13), key("h"): (T(10), 8.5, 2, 3),
                            key("n2"): (T(10), 2.5, 2, 19)}
    assert tombstones(prices) == {key("a"): (T(11), 2, str(first), 3), key("b"): (T(11), 2, str(first), 4),
                                  key("e"): (T(10), 2, str(first), 11), key("g"): (T(10), 2, str(second), 2),
                                  key("n1"): (T(11), 2, str(first), 17), key("n3"): (T(10), 2, str(first), 21)}
    newer, tie = "wins (newer updated_at)", "wins (same updated_at, later in the input)"
    by_line = {(src, n): (step, detail) for src, n, step, detail in prices.rows(
        f"select source, line_no, step, {TARGET_DETAIL} from lineage where run_id = 2 and step <> 'staged'")}
    f, g = str(first), str(second)
    assert by_line == {
        (f, 2): ("superseded", f"the record for this key on line 3 {newer}"), (f, 3): ("deleted", "removed"),
        (f, 4): ("deleted", "removed"), (f, 5): ("superseded", f"the record for this key on line 4 {newer}"),
        (f, 6): ("loaded", "updated"), (f, 7): ("superseded", f"the record for this key on line 6 {newer}"),
        (f, 8): ("superseded", f"the record for this key on line 9 {newer}"), (f, 9): ("loaded", "updated"),
        (f, 10): ("superseded", f"the record for this key on line 11 {tie}"), (f, 11): ("deleted", "removed"),
        (f, 12): ("superseded", f"the record for this key on line 13 {tie}"), (f, 13): ("loaded", "updated"),
        (f, 14): ("superseded", f"the record for this key on line 2 of {g} {tie}"),
        (g, 2): ("deleted", "removed"),
        (f, 15): ("superseded", f"the record for this key on line 3 of {g} {tie}"),
        (g, 3): ("loaded", "updated"),
        (f, 16): ("superseded", f"the record for this key on line 17 {newer}"), (f, 17): ("deleted", "no row"),
        (f, 18): ("superseded", f"the record for this key on line 19 {tie}"), (f, 19): ("loaded", "inserted"),
        (f, 20): ("superseded", f"the record for this key on line 21 {tie}"), (f, 21): ("deleted", "no row")}
    assert watermark(prices) == T(11)


# ---------------------------------------------------------------------------------------------
# 4. soft deletes: the row stays, marked


SOFT = """\
-- section: declare
select 'shelf'                                  as feed,
       'shelf'                                  as target,
       'store_id, sku'                          as key_columns,
       'updated_at'                             as timestamp_column,
       'iso8601'                                as timestamp_format,
       'store_id, sku, updated_at, price, op'   as input_columns,
       'soft'                                   as deletes,
       'deleted_at'                             as deleted_column,
       'report'                                 as corrections,
       'off'                                    as history;

-- section: target
create table if not exists shelf (
    store_id    text not null,
    sku         text not null,
    updated_at  text not null,
    price       numeric not null,
    deleted_at  text,
    run_id      integer not null,
    source      text not null,
    line_no     integer not null,
    primary key (store_id, sku)
);

-- section: records
-- (unlike prices, a deletion's price is read when it is a number: it must still not be written)
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       key_text(store_id, sku) as _key,
       updated_at as _ts_text,
       store_id,
       sku,
       case when price_is = 'a number' then cast(price as numeric) end as price,
       case when op = 'D' then 1 else 0 end as _delete,
       case when op is null then 'op is missing'
            when op not in ('I', 'U', 'D') then 'op is not I, U or D: ' || op
            when op = 'D' then null
            when price_is = 'missing' then 'price is missing'
            when price_is = 'not a number' then 'price is not a decimal number: ' || price
       end as _invalid
  from (select _record_no,
               nullif(trim(store_id), '')   as store_id,
               nullif(trim(sku), '')        as sku,
               nullif(trim(updated_at), '') as updated_at,
               nullif(trim(op), '')         as op,
               trim(price)                  as price,
               case when nullif(trim(price), '') is null then 'missing'
                    when trim(trim(price), '0123456789') in ('', '.')
                         and trim(price) not in ('', '.') then 'a number'
                    else 'not a number'
               end as price_is
          from landing) as fields;

-- section: versions
drop view if exists stored_versions;
create temp view stored_versions as
select records._record_no, stored.updated_at as _ts
  from run_batch as records
  join shelf as stored on stored.store_id = records.store_id
                      and stored.sku = records.sku
 where records._outcome in ('loaded', 'skipped');

-- section: upsert
insert into shelf (store_id, sku, updated_at, price, deleted_at, run_id, source, line_no)
select store_id, sku, _ts, price, null, :run_id, _source, _line_no
  from run_batch
 where _outcome = 'loaded'
on conflict (store_id, sku) do update
   set updated_at = excluded.updated_at,
       price      = excluded.price,
       deleted_at = null,
       run_id     = excluded.run_id,
       source     = excluded.source,
       line_no    = excluded.line_no
 where excluded.updated_at > shelf.updated_at;

-- section: delete
update shelf
   set deleted_at = deleted._ts,
       updated_at = deleted._ts,
       run_id     = :run_id,
       source     = deleted._source,
       line_no    = deleted._line_no
  from run_batch as deleted
 where deleted._outcome = 'deleted'
   and deleted.store_id = shelf.store_id
   and deleted.sku = shelf.sku
   and deleted._ts > shelf.updated_at;

-- section: trace
select * from shelf where key_text(store_id, sku) = :key;
"""



def shelf(loader) -> dict:
    """key -> (updated_at, price, deleted_at, run_id, source, line_no)"""
    return {key(r[1], r[0]): tuple(r[2:]) for r in loader.rows(
        "select store_id, sku, updated_at, price, deleted_at, run_id, source, line_no from shelf")}


def test_soft_deletes_mark_the_row_and_a_newer_upsert_clears_the_mark(prices):
    definition = prices.tmp / "shelf.sql"
    definition.write_text(SOFT)

    def soft(*lines, args=()):
        path = prices.batch(*lines, header=HEADER)
        return path, checked(prices, prices.run(path, "--feed", definition, *args), path)

    b1, _ = soft(up("k1", T(10), "1.5"), up("k2", T(10), "2.5"))
    # the deletions carry a price: it is never written
    b2, s = soft(rm("k1", T(12), price="9.99"), rm("k2", T(9), price="9.99"), rm("k3", T(12), price="9.99"))
    assert (s["deleted"], s["skipped"], s["late_skipped"], s["loaded"]) == (2, 1, 0, 0)
    assert shelf(prices) == {key("k1"): (T(12), 1.5, T(12), 2, str(b2), 2),
                             key("k2"): (T(10), 2.5, None, 1, str(b1), 3)}  # and no row for k3
    assert outcomes(prices, 2) == [(2, key("k1"), "deleted", "marked"),
                                   (3, key("k2"), "skipped", f"older than {T(10)} (the watermark)"),
                                   (4, key("k3"), "deleted", "no row")]
    assert tombstones(prices, "shelf") == {key("k1"): (T(12), 2, str(b2), 2), key("k3"): (T(12), 2, str(b2), 4)}
    assert watermark(prices, "shelf") == T(12)

    # reconsidered: older upserts are stale (the mark and the values stay), a newer deletion marks
    b3, s = soft(up("k1", T(11), "7.5"), rm("k2", T(11), price="8.88"), up("k3", T(11), "7.5"),
                 args=("--lookback", "5d"))
    assert (s["stale"], s["deleted"], s["loaded"]) == (2, 1, 0)
    assert shelf(prices) == {key("k1"): (T(12), 1.5, T(12), 2, str(b2), 2),
                             key("k2"): (T(11), 2.5, T(11), 3, str(b3), 3)}
    got = outcomes(prices, 3)
    assert [o[:3] for o in got] == [(2, key("k1"), "stale"), (3, key("k2"), "deleted"), (4, key("k3"), "stale")]
    # (a soft-deleted row's key says it was deleted, as a hard-deleted one's does)
    assert [o[3] for o in got] == [f"deleted at {T(12)} by run 2", "marked", f"deleted at {T(12)} by run 2"]

    # a newer upsert brings the key back (the mark is cleared, its tombstone goes); a newer
    # deletion of a marked row moves the mark and the tombstone
    b4, s = soft(up("k1", T(13), "3.5"), rm("k2", T(14), price="1"))
    assert (s["updated"], s["inserted"], s["deleted"]) == (1, 0, 1)
    assert shelf(prices) == {key("k1"): (T(13), 3.5, None, 4, str(b4), 2),
                             key("k2"): (T(14), 2.5, T(14), 4, str(b4), 3)}
    assert tombstones(prices, "shelf") == {key("k2"): (T(14), 4, str(b4), 3), key("k3"): (T(12), 2, str(b2), 4)}
    assert tombstones(prices) == {}  # the feed prices, in the same database, saw none of it


# ---------------------------------------------------------------------------------------------
# 6 and 10. the shipped sample: its accounting, lineage and --runs; a rerun changes nothing


def test_the_sample_and_its_reruns(prices):
    sample = prices.tmp / "prices_sample.csv"
    shutil.copy(PRICES_SAMPLE, sample)
    result = prices.run(sample, now="2025-04-01T00:00:00")
    s = checked(prices, result, sample)
    assert {c: s[c] for c in ("input_records", "staged", "loaded", "inserted", "deleted", "superseded",
                              "rejected", "stale", "skipped")} == {
        "input_records": 12, "staged": 9, "loaded": 4, "inserted": 4, "deleted": 2, "superseded": 3,
        "rejected": 3, "stale": 0, "skipped": 0}
    assert "4 loaded (4 new, 0 updated), 2 deleted, 0 skipped" in result.stderr
    assert prices.rows(f"select step, {TARGET_DETAIL} from lineage where run_id = 1 and step <> 'staged' "
                       "order by line_no") == [
        ("superseded", "the record for this key on line 6 wins (newer updated_at)"),
        ("superseded", "the record for this key on line 7 wins (newer updated_at)"),
        ("loaded", "inserted"),
        ("superseded", "the record for this key on line 12 wins (newer updated_at)"),
        ("loaded", "inserted"),
        ("deleted", "no row"),
        ("deleted", "no row"),
        ("rejected", "price is not a decimal number: abc"),
        ("rejected", "op is not I, U or D: X"),
        ("rejected", "op is missing"),
        ("loaded", "inserted"),
        ("loaded", "inserted")]

    def state():
        return (rows(prices), tombstones(prices), watermark(prices),
                prices.rows("select dead_letter_id, status, raw from dead_letter order by 1"))

    before = state()
    assert before[:2] == ({key("apple"): ("2025-03-02T09:00:00", 0.45, 1, 6),
                           key("apple", "S2"): ("2025-03-01T09:00:00", 0.55, 1, 4),
                           key("pear", "S2"): ("2025-03-04T09:00:00", 0.9, 1, 12),
                           key("fig", "S3"): ("2025-03-05T09:00:00", 1.25, 1, 13)},
                          {key("pear"): ("2025-03-03T09:00:00", 1, str(sample), 7),
                           key("plum", "S2"): ("2025-03-03T09:00:00", 1, str(sample), 8)})

    rerun = checked(prices, prices.run(sample, now="2025-04-01T00:00:00"), sample)
    assert (rerun["loaded"], rerun["deleted"], rerun["skipped"], rerun["stale"], rerun["late_skipped"],
            rerun["dead_letters"], rerun["dead_letters_repeated"]) == (0, 0, 8, 1, 0, 0, 3)
    assert state() == before
    # everything reconsidered: the deletions are stale against their tombstones
    back = checked(prices, prices.run(sample, "--lookback", "90d", now="2025-04-01T00:00:00"), sample)
    assert (back["loaded"], back["deleted"], back["skipped"], back["stale"], back["superseded"]) == (0, 0, 0, 6, 3)
    assert state() == before
    stale = {k: d for _, k, step, d in outcomes(prices, 3) if step == "stale"}
    assert stale[key("pear")] == stale[key("plum", "S2")] == "deleted at 2025-03-03T09:00:00 by run 1"

    runs = prices.run("--runs")
    assert runs.code == 0, runs.stderr
    lines = runs.stdout.splitlines()
    columns = lines[0].split()
    assert "deleted" in columns
    assert [line.split()[columns.index("deleted")] for line in lines[1:4]] == ["2", "0", "0"]
    assert prices.rows("select deleted from run_log order by run_id") == [(2,), (0,), (0,)]


# ---------------------------------------------------------------------------------------------
# 7. replayed dead letters


def test_a_fixed_deletion_replayed_applies_and_a_replayed_older_upsert_is_stale(prices):
    load(prices, up("k1", T(10), "1.5"), up("k2", T(10), "2.5"))
    bad = prices.batch(rm("k1", "2025-01-32T00:00:00"), up("k2", T(5), "abc"), rm("k2", T(12)), header=HEADER)
    s = checked(prices, prices.run(bad), bad)
    assert (s["rejected"], s["dead_letters"], s["deleted"]) == (2, 2, 1)
    assert prices.rows("select line_no, reason from dead_letter order by line_no") == [
        (2, "updated_at is not a valid timestamp: 2025-01-32T00:00:00"), (3, "price is not a decimal number: abc")]
    prices.rows("update dead_letter set raw = replace(replace(raw, '2025-01-32', '2025-01-13'), 'abc', '4.5')")

    replay = checked(prices, prices.run("--replay-dead-letters"))

    assert replay["kind"] == "replay"
    assert (replay["deleted"], replay["stale"], replay["loaded"], replay["dead_letters_resolved"]) == (1, 1, 0, 2)
    assert rows(prices) == {}
    assert tombstones(prices) == {key("k1"): (T(13), 3, str(bad), 2), key("k2"): (T(12), 2, str(bad), 4)}
    assert outcomes(prices, 3) == [(2, key("k1"), "deleted", "removed"),
                                   (3, key("k2"), "stale", f"deleted at {T(12)} by run 2")]
    assert prices.rows("select line_no, status, resolved_by_run from dead_letter order by line_no") == [
        (2, "resolved", 3), (3, "resolved", 3)]
    assert watermark(prices) == T(13)


# ---------------------------------------------------------------------------------------------
# 8. --prune-history keeps tombstones


def test_prune_history_keeps_tombstones(prices):
    load(prices, up("k1", T(10)), up("k2", T(10)), rm("k1", T(11)), rm("k3", T(11)))
    before = tombstones(prices)
    assert set(before) == {key("k1"), key("k3")}

    pruned = prices.run("--prune-history", "1d", now="2025-03-01T00:00:00")
    assert pruned.code == 0, pruned.stderr
    assert json.loads(pruned.stdout)["runs_pruned"] == 1
    assert prices.rows("select count(*) from lineage where feed = 'prices'") == [(0,)]
    assert tombstones(prices) == before

    # and they still keep older records out
    s = load(prices, up("k1", T(10, 12), "5.5"), up("k3", T(11), "5.5"), args=("--lookback", "5d"),
             now="2025-03-01T00:00:00")
    assert (s["stale"], s["differing"], s["loaded"]) == (1, 1, 0)  # (k3: at the deletion's version)
    assert outcomes(prices, s["run_id"]) == [(2, key("k1"), "stale", f"deleted at {T(11)} by run 1"),
                                             (3, key("k3"), "differing", f"deleted at {T(11)} by run 1")]
    assert set(rows(prices)) == {key("k2")}
    assert tombstones(prices) == before


# ---------------------------------------------------------------------------------------------
# 9. late data: a skipped deletion is late only if it would have removed a stored row


def test_a_skipped_delete_is_late_only_when_it_would_remove_a_stored_row(prices):
    load(prices, up("k1", T(10)), up("k2", T(10)), up("k3", T(20)), rm("k7", T(18)))
    assert watermark(prices) == T(20)
    late = [rm("k1", T(15)),          # would remove the row stored at T10: late
            rm("k2", T(5)),           # older than the stored row: not late
            rm("k3", T(15)),          # the stored row is newer: not late
            rm("k5", T(15)),          # a key the target does not hold: only a tombstone, not late
            up("k6", T(16), "6.5"),   # a new key's upsert: late
            up("k7", T(16), "7.5")]   # older than k7's tombstone: not late
    path = prices.batch(*late, header=HEADER)
    result = prices.run(path)
    s = checked(prices, result, path)

    assert (s["skipped"], s["late_skipped"], s["oldest_late"]) == (6, 2, T(15))
    assert prices.rows("select late_skipped, oldest_late from run_log where run_id = 2") == [(2, T(15))]
    warning = next(line for line in result.stderr.splitlines() if line.startswith("warning: "))
    assert "2 late records skipped" in warning and f"(the oldest: {T(15)})" in warning
    # the lookback the warning gives: what it reaches changes exactly what was counted
    lookback = re.search(r"--lookback (\S+)", warning).group(1)
    back = load(prices, *late, args=("--lookback", lookback))
    assert {k: (step, d) for _, k, step, d in outcomes(prices, back["run_id"])} == {
        key("k1"): ("deleted", "removed"), key("k2"): ("skipped", f"older than {T(15)} (the watermark "
                                                                 f"{T(20)} minus the lookback)"),
        key("k3"): ("stale", stale_row(T(20))), key("k5"): ("deleted", "no row"),
        key("k6"): ("loaded", "inserted"), key("k7"): ("stale", f"deleted at {T(18)} by run 1")}
    assert (back["deleted"], back["loaded"], back["late_skipped"]) == (2, 1, 0)
    assert set(rows(prices)) == {key("k2"), key("k3"), key("k6")}


# ---------------------------------------------------------------------------------------------
# 11. --trace on a deleted key


def test_trace_tells_a_deleted_key(prices):
    load(prices, up("k1", T(10), "1.5"), up("k2", T(10), "2.5"))
    load(prices, rm("k1", T(11)))

    deleted, held, never = parallel((prices.run, "--trace", "S1", "k1"), (prices.run, "--trace", key("k2")),
                                     (prices.run, "--trace", "S1", "nothing"))

    assert deleted.code == 0, deleted.stderr
    out = deleted.stdout
    assert f"deleted at {T(11)} by run 2 ({prices.tmp / 'batch2.csv'}:2): " in out
    assert re.search(r"^not in prices$", out, re.M) and "now in prices" not in out
    assert re.search(r"^2 +\S+ +deleted +\S*batch2\.csv +2 +" + T(11) + r" +removed(; history: closed)?$", out, re.M), out
    assert "no table to look in" not in out, out

    # a key that is held: its row, and no deletion
    assert held.code == 0, held.stderr
    assert f"now in prices: store_id=S1, sku=k2, updated_at={T(10)}" in held.stdout
    assert "deleted at" not in held.stdout
    assert "not in prices" not in held.stdout, held.stdout

    # a key never seen: not in the table, and no deletion
    assert never.code == 0, never.stderr
    assert re.search(r"^not in prices$", never.stdout, re.M)
    assert "deleted at" not in never.stdout
    assert "no table to look in" not in never.stdout, never.stdout


# ---------------------------------------------------------------------------------------------
# 12. declarations refused before the database opens


def prices_with(declare_extra: str = "", deletes: str | None = "'hard'", records=None,
                delete_section: bool = True, history: str = "'on'") -> str:
    """prices.sql with its declaration changed (deletes None: not declared at all), its _delete
    replaced by records, or without its delete section."""
    text = PRICES_SQL.read_text()
    hard = re.compile(r",(\s*--[^\n]*\n)*\s*'hard'\s+as deletes,(\s*--[^\n]*\n)*\s*'apply'\s+as corrections,"
                      r"(\s*--[^\n]*\n)*\s*'on'\s+as history;")
    assert hard.search(text)
    if deletes is None:  # (its version history stays on: what is refused is the deletes)
        text = hard.sub(f", {history} as history;", text)
    else:
        text = hard.sub(f", {deletes} as deletes{declare_extra}, {history} as history;", text)
    if records is not None:
        assert "case when op = 'D' then 1 else 0 end as _delete," in text
        text = text.replace("case when op = 'D' then 1 else 0 end as _delete,", records)
    if not delete_section:
        text = text[:text.index("-- section: delete")] + text[text.index("-- section: trace"):]
    return text


REFUSED = [
    ("deletes 'sometimes'", prices_with(deletes="'sometimes'"),
     "deletes is one of 'none', 'hard', 'soft', not 'sometimes'"),
    ("hard without _delete", prices_with(records=""), "gives no _delete"),
    ("hard without a delete section", prices_with(delete_section=False), "no '-- section: delete'"),
    ("_delete without deletes", prices_with(deletes="'none'", delete_section=False),
     "declares no deletes, but its records section gives _delete"),
    ("a delete section without deletes", prices_with(deletes="'none'", records=""),
     "declares no deletes, but it has a delete section"),
    ("both, deletes not declared", prices_with(deletes=None),
     "its records section gives _delete and it has a delete section"),
    ("soft without deleted_column", prices_with(deletes="'soft'"), "name it, e.g. 'deleted_at' as deleted_column"),
    ("deleted_column for hard", prices_with(declare_extra=", 'gone' as deleted_column"),
     "deleted_column is for deletes = 'soft'"),
    ("a deleted_column that is no name",
     prices_with(deletes="'soft'", declare_extra=", 'gone; drop' as deleted_column"),
     "deleted_column is the name of a column"),
    ("corrections unknown", prices_with(declare_extra=", 'fix' as corrections"),
     "corrections is 'report' or 'apply', not 'fix'"),
    ("history unknown", prices_with(history="'always'"), "history is 'off' or 'on', not 'always'"),
    ("soft, its column named by neither section",
     SOFT.replace("'deleted_at'                             as deleted_column", "'removed_at' as deleted_column"),
     "which its upsert and delete sections never name"),
]


def test_bad_delete_declarations_are_refused_before_the_database_opens(prices):
    batch = prices.batch(up("k1", T(10)), header=HEADER)
    if prices.engine == "sqlite":
        prices.db = prices.tmp / "never.db"
    # (refused before the database is opened, whatever it is: PostgreSQL is tried with a few)
    refused = REFUSED if prices.engine == "sqlite" else [REFUSED[i] for i in (0, 1, 6, 11)]
    definitions = []
    for n, (_, text, _) in enumerate(refused):
        definitions.append(prices.tmp / f"bad{n}.sql")
        definitions[-1].write_text(text)

    results = parallel(*((prices.run, batch, "--feed", d) for d in definitions))

    failures = [(what, r.code, r.stdout, r.stderr) for (what, _, message), d, r in zip(refused, definitions, results)
                if r.code != 2 or message not in r.stderr or d.name not in r.stderr
                or "Traceback" in r.stderr or r.stdout]
    assert failures == []
    assert not prices.has_schema()  # no database file made (SQLite), no table (PostgreSQL)
    # the shipped definition, copied to the same place, loads
    good = prices.tmp / "good.sql"
    good.write_text(PRICES_SQL.read_text())
    assert checked(prices, prices.run(batch, "--feed", good), batch)["inserted"] == 1


def test_the_delete_sections_guard_alone_keeps_a_newer_row(prices):
    """Defence in depth, as for the upsert: even if stage 09 stopped finding deletions stale, the
    delete section's own guard never removes a row newer than the deletion."""
    stage = prices.sql_dir / "09_compare_with_stored.sql"  # (the fixture's copy of sql/)
    text = stage.read_text()
    # the comparison with the stored row, which marks older records stale, finds nothing
    rule = "where stored._record_no = run_batch._record_no\n   and run_batch._outcome = 'loaded';"
    assert text.count(rule) == 1
    stage.write_text(text.replace(rule, rule.replace(";", " and 1 = 0;")))
    load(prices, up("k1", T(10), "2.5"))
    prices.rows("update watermark set value = ?", T(1))
    prices.run(prices.batch(rm("k1", T(5)), header=HEADER))
    assert rows(prices) == {key("k1"): (T(10), 2.5, 1, 2)}


def test_repair_watermark_counts_deletions_as_lineage_does(prices):
    """With no successful run on record, --repair-watermark takes lineage's newest record that was
    loaded or deleted (a deletion moves the watermark, stage 11)."""
    load(prices, up("k1", T(10)), rm("k2", T(12)))
    assert watermark(prices) == T(12)
    prices.rows("delete from run_log")
    prices.rows("update watermark set value = null")
    repaired = prices.run("--repair-watermark")
    assert repaired.code == 0, repaired.stderr
    assert watermark(prices) == T(12)
