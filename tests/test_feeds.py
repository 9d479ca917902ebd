"""Feeds: a feed's shape in one definition (sql/feeds/NAME.sql), composite keys, several feeds in
one database, and the messages a person adapting a definition reads."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import ORDERS_SAMPLE, ROOT, SAMPLE, Loader, make_loader
from loader import feed as feeds
from loader.errors import Refused

EVENTS = ROOT / "sql" / "feeds" / "events.sql"


# The worked example ------------------------------------------------------------------------

def test_the_orders_sample_loads_with_its_composite_key(loader):
    result = loader.run(ORDERS_SAMPLE, "--feed", "orders")
    assert result.code == 0, result.stderr
    s = result.summary
    assert (s["feed"], s["input_records"], s["loaded"], s["superseded"], s["rejected"]) == ("orders", 12, 7, 2, 3)
    assert s["watermark"] == "2025-01-15T16:00:00" and s["unused_columns"] == []
    loader.assert_accounted(s, {str(ORDERS_SAMPLE): set(range(2, 14))})
    # the newer of two versions of S1/O-1001 wins; S2/O-1001 is another order; a refund is a number
    assert loader.rows("select store_id, order_id, updated_at, customer, total from orders order by 1, 2") == [
        ("S1", "O-1001", "2025-01-15T11:00:00", "Ada Lovelace", 27),
        ("S1", "O-1002", "2025-01-15T09:00:00", "Grace Hopper", 12),
        ("S1", "O-1003", "2025-01-15T16:00:00", None, 15),
        ("S2", "O-1001", "2025-01-15T10:00:00", "Alan Turing", 99.99),
        ("S2", "O-1002", "2025-01-15T12:00:00", "Edsger Dijkstra", 5.25),
        ("S2", "O-1003", "2025-01-15T14:00:00", "Hopper, Grace", -4.5),
        ("S3", "O-1004", "2025-01-15T15:00:00", "Linus Torvalds", 70)]
    # lineage and dead letters know a key of two columns by its JSON text, in the feed's words
    assert loader.rows("select line_no, event_id, detail from lineage where step = 'superseded' order by 1") == [
        (2, '["S1","O-1001"]', "the record for this key on line 5 wins (newer updated_at)"),
        (7, '["S1","O-1002"]', "the record for this key on line 3 wins (newer updated_at)")]
    assert loader.rows("select line_no, reason from dead_letter order by 1") == [
        (8, "updated_at is not a valid timestamp: yesterday"), (9, "store_id or order_id is missing"),
        (10, "total is not a decimal number: ten")]

    trace = loader.run("--trace", "S1", "O-1001", "--feed", "orders")
    assert trace.code == 0, trace.stderr
    assert trace.stdout.splitlines()[0] == 'orders: store_id, order_id ["S1","O-1001"]'
    assert "now in orders: store_id=S1, order_id=O-1001, updated_at=2025-01-15T11:00:00" in trace.stdout
    assert "superseded" in trace.stdout
    # the text form works as well
    assert loader.run("--trace", '["S2","O-1003"]', "--feed", "orders").stdout.count("loaded") == 1


def test_keys_of_several_columns_are_the_same_text_on_both_engines(request, tmp_path):
    values = [("S1", 'quote " and \\ backslash'), ("S1", "tab\tand é"), ("a,b", "c"), ("a", "b,c")]
    lines = "".join(f'"{s.replace(chr(34), chr(34) * 2)}","{o.replace(chr(34), chr(34) * 2)}",1736928000,x,1\n'
                    for s, o in values)
    keys = {}
    for engine in ("sqlite", "postgresql"):
        (tmp_path / engine).mkdir()
        loader = make_loader(engine, tmp_path / engine, request, "orders")
        summary = loader.load(*lines.splitlines())
        assert summary["loaded"] == 4  # "a,b"+"c" and "a"+"b,c" are two keys, not one
        keys[engine] = loader.rows("select event_id from lineage where step = 'loaded' order by line_no")
    assert keys["sqlite"] == keys["postgresql"]
    assert [json.loads(k) for (k,) in keys["sqlite"]] == [list(v) for v in values]


# Several feeds, one database ------------------------------------------------------------------

def test_two_feeds_share_a_database_each_with_its_own_watermark_and_history(loader):
    assert loader.run(SAMPLE).code == 0                                    # events: watermark 12:00
    orders = loader.run(ORDERS_SAMPLE, "--feed", "orders")
    assert orders.code == 0, orders.stderr
    # orders from 08:00 on are not skipped by the events feed's watermark
    assert (orders.summary["loaded"], orders.summary["skipped"], orders.summary["watermark_before"]) == (7, 0, None)
    assert loader.rows("select feed, value from watermark order by 1") == [
        ("events", "2025-01-15T12:00:00"), ("orders", "2025-01-15T16:00:00")]
    again = loader.run(SAMPLE).summary                                     # events' rerun is unchanged
    assert (again["loaded"], again["skipped"], again["stale"], again["dead_letters_repeated"]) == (0, 4, 1, 2)

    runs = loader.run("--runs")
    assert [line.split()[1] for line in runs.stdout.splitlines()[1:]] == ["events", "orders", "events"]
    only = loader.run("--runs", "--feed", "orders", "--output", loader.tmp / "runs.json")
    assert [r["run_id"] for r in json.loads((loader.tmp / "runs.json").read_text())["runs"]] == [2]
    assert "events" not in only.stdout.split("\n", 1)[1]

    # a replay is per feed: the events feed's dead letters are not sent through orders
    replay = loader.run("--replay-dead-letters", "--feed", "orders")
    assert (replay.summary["feed"], replay.summary["input_records"]) == ("orders", 3)
    assert loader.rows("select feed, count(*) from dead_letter where status = 'open' group by feed order by 1") == [
        ("events", 2), ("orders", 3)]

    # repairing one feed's watermark leaves the other's alone
    loader.rows("update watermark set value = 'junk' where feed = 'orders'")
    repair = loader.run("--repair-watermark", "--feed", "orders")
    assert json.loads(repair.stdout)["watermark"] == "2025-01-15T16:00:00"
    assert loader.rows("select feed, value from watermark order by 1") == [
        ("events", "2025-01-15T12:00:00"), ("orders", "2025-01-15T16:00:00")]
    # --trace is per feed too
    assert "never seen in any run of the feed orders" in loader.run("--trace", "S1", "evt-001", "--feed",
                                                                    "orders").stdout
    wrong = loader.run("--trace", "evt-001", "--feed", "orders")  # one value for a key of two columns
    assert wrong.code == 2 and "has 2 columns (store_id, order_id): give --trace 2 values" in wrong.stderr


def copy_feed(loader, name: str, replacements: dict) -> str:
    """A copy of the events definition outside the repository, edited; returns its path."""
    path = loader.tmp / "my_feeds" / f"{name}.sql"
    path.parent.mkdir(exist_ok=True)
    text = EVENTS.read_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return str(path)


def test_one_definition_serves_both_engines_without_rowid_dropped_on_postgresql(tmp_path):
    """The one rewrite of a definition's text: WITHOUT ROWID after a create table's closing
    parenthesis, in the target and history sections, on PostgreSQL only."""
    mine = tmp_path / "stocks.sql"
    mine.write_text(ROOT.joinpath("sql", "feeds", "prices.sql").read_text())
    on_sqlite, on_postgresql = feeds.read(mine, "sqlite"), feeds.read(mine, "postgresql")
    creates = [st for st in on_sqlite.sections["target"] if "create table" in st.text]
    assert len(creates) == 2 and all(") without rowid;" in st.text for st in creates)
    rewritten = {st.line: st for st in on_postgresql.sections["target"]}
    for st in creates:
        assert "without rowid" not in rewritten[st.line].text.lower()
        assert "without rowid" not in rewritten[st.line].pyformat_text.lower()
        assert rewritten[st.line].text == st.text.replace(") without rowid;", ");")
    # every other statement and section is as written
    assert [st.text for st in on_postgresql.sections["target"] if st.line not in {c.line for c in creates}] \
        == [st.text for st in on_sqlite.sections["target"] if st.line not in {c.line for c in creates}]
    assert all(on_postgresql.sections[name] == on_sqlite.sections[name] for name in on_sqlite.sections
               if name not in ("target",))


def test_a_copied_definition_under_a_new_name_loads_beside_the_original(loader):
    clicks = copy_feed(loader, "clicks", {"events": "clicks"})  # its name, its table
    assert loader.run(SAMPLE).code == 0
    result = loader.run(SAMPLE, "--feed", clicks)
    assert result.code == 0, result.stderr
    assert (result.summary["feed"], result.summary["loaded"], result.summary["skipped"]) == ("clicks", 5, 0)
    assert loader.table("clicks") == [row[:4] + (2,) + row[5:] for row in loader.table("events")]
    assert loader.rows("select count(*), count(distinct run_id) from lineage where feed = 'clicks'") == [(12, 1)]
    assert loader.rows("select feed, count(*) from dead_letter group by feed order by 1") == [
        ("clicks", 2), ("events", 2)]
    # its runs, by its name alone (no definition under sql/feeds/ needed)
    runs = loader.run("--runs", "--feed", "clicks")
    assert runs.code == 0 and [line.split()[:2] for line in runs.stdout.splitlines()[1:]] == [["2", "clicks"]]


def test_a_copy_that_keeps_the_original_table_is_refused(loader):
    assert loader.run(SAMPLE).code == 0
    before = loader.table("events")
    clicks = copy_feed(loader, "clicks", {"'events'                              as feed":
                                          "'clicks'                              as feed"})
    result = loader.run(SAMPLE, "--feed", clicks)
    assert result.code == 2
    assert "the table events is the target of the feed events" in result.stderr
    assert f"{clicks} declares it as the target of the feed clicks" in result.stderr
    assert loader.table("events") == before
    assert loader.rows("select status from run_log order by run_id") == [("succeeded",), ("failed",)]


def test_renamed_columns_in_a_copy_of_the_definition_give_the_same_results(loader, tmp_path, request):
    renamed = copy_feed(loader, "events", {
        "'event_id' ": "'id' ", "'event_ts' ": "'ts' ",
        "'event_id, event_ts, user_id, amount'": "'id, ts, customer, price'",
        "trim(event_id)": "trim(id)", "trim(event_ts)": "trim(ts)", "trim(user_id)": "trim(customer)",
        "nullif(trim(amount), '')": "nullif(trim(price), '')"})
    lines = SAMPLE.read_text().splitlines()
    batch = loader.tmp / "renamed.csv"
    batch.write_text("\n".join(["id,ts,customer,price", *lines[1:]]) + "\n")
    result = loader.run(batch, "--feed", renamed)
    assert result.code == 0, result.stderr

    (tmp_path / "original").mkdir()
    original = make_loader(loader.engine, tmp_path / "original", request)
    expected = original.run(SAMPLE).summary
    same = ("feed", "input_records", "staged", "rejected", "loaded", "inserted", "superseded", "watermark")
    assert {k: result.summary[k] for k in same} == {k: expected[k] for k in same}
    assert loader.events() == original.events()
    # the reasons speak the renamed columns' language
    assert [r for (r,) in loader.rows("select reason from dead_letter order by line_no")] == [
        "ts is not a valid timestamp: 2025-02-30T10:00:00", "amount is not a number: twelve"]


def test_a_definition_written_for_the_previous_release_still_loads_the_same(loader, tmp_path, request):
    """Before schema version 3, stored_versions was defined in the records section, over
    feed_records; a definition written then loads with the same results (and a note)."""
    previous = copy_feed(loader, "events", {
        "-- section: versions\n": "",
        "  from run_batch as records\n": "  from feed_records as records\n",
        "\n where records._outcome in ('loaded', 'skipped');  -- (skipped: for late data, 07)": ";"})
    assert "section: versions" not in Path(previous).read_text()
    (tmp_path / "shipped").mkdir()
    shipped = make_loader(loader.engine, tmp_path / "shipped", request)
    batches = [SAMPLE, loader.batch("evt-001,2025-01-16T00:00:00,user-1,5",      # an update
                                    "evt-002,2025-01-15T09:30:00,user-2,5",      # stale
                                    "evt-009,2025-01-16T00:00:00,user-9,1",      # new, and superseded by
                                    "evt-009,2025-01-16T01:00:00,user-9,2")]     # this newer one
    for batch in batches:
        old_way = loader.run(batch, "--feed", previous, "--lookback", "1d")
        assert old_way.code == 0, old_way.stderr
        assert "defines stored_versions in its records section" in old_way.stderr
        new_way = shipped.run(batch, "--lookback", "1d")
        counts = ("loaded", "inserted", "updated", "stale", "superseded", "rejected", "lineage_entries")
        assert {k: old_way.summary[k] for k in counts} == {k: new_way.summary[k] for k in counts}
    assert (old_way.summary["updated"], old_way.summary["stale"], old_way.summary["superseded"]) == (1, 1, 1)
    assert loader.events() == shipped.events()
    assert loader.rows("select lineage_id, step, event_id, detail from lineage order by 1") == \
        shipped.rows("select lineage_id, step, event_id, detail from lineage order by 1")


# What a person adapting a feed reads ----------------------------------------------------------

def test_columns_the_feed_does_not_read_are_reported(sqlite_loader):
    loader = sqlite_loader
    batch = loader.batch("k1,2025-01-10T00:00:00,u,1,EUR,x", header="event_id,event_ts,user_id,amount,currency,note\n")
    result = loader.run(batch)
    assert result.code == 0 and result.summary["unused_columns"] == ["currency", "note"]
    assert "the feed events does not read the input's columns currency, note: not loaded" in result.stderr
    assert "sql/feeds/events.sql" in result.stderr
    assert loader.run(SAMPLE).summary["unused_columns"] == []


def test_an_input_without_the_feeds_columns_is_refused_in_one_message(sqlite_loader):
    loader = sqlite_loader
    result = loader.run(ORDERS_SAMPLE)  # the orders file, without --feed orders
    assert result.code == 2
    error = result.stderr.strip()
    assert error.count("has no column") == 1 and len(error.splitlines()) == 1
    assert 'the input has no columns "event_id", "event_ts", "user_id", "amount", which the feed events reads' in error
    assert "sql/feeds/events.sql" in error and "its header has store_id, order_id, updated_at, customer, total" in error
    assert "--feed" in error


def test_a_feed_is_known_by_the_name_it_declares(sqlite_loader):
    loader = sqlite_loader
    sql = loader.copy_sql()
    shutil.copy(sql / "feeds" / "events.sql", sql / "feeds" / "stocks.sql")   # copied, name not changed
    result = loader.run(SAMPLE, "--feed", "stocks")
    assert result.code == 2
    assert "stocks.sql declares the feed 'events', not 'stocks'" in result.stderr
    unknown = loader.run(SAMPLE, "--feed", "nope")
    assert unknown.code == 2 and "there is no" in unknown.stderr and "events, orders, prices, stocks" in unknown.stderr
    assert not loader.db.exists()


def test_a_copy_of_sql_made_before_feeds_gets_a_message_not_a_sql_error(sqlite_loader):
    loader = sqlite_loader
    sql = loader.copy_sql()
    shutil.rmtree(sql / "feeds")
    result = loader.run(SAMPLE)
    assert result.code == 2
    assert "has no feeds/ folder" in result.stderr and "before feeds existed" in result.stderr
    assert "docs/feeds.md" in result.stderr and "Traceback" not in result.stderr
    # with a definition given by path as well: its stages are the old ones
    (sql / "09_compare_with_stored.sql").rename(sql / "09_upsert_events.sql")
    by_path = loader.run(SAMPLE, "--feed", str(ROOT / "sql" / "feeds" / "events.sql"))
    assert by_path.code == 2 and "before feeds existed" in by_path.stderr
    assert not loader.db.exists()


@pytest.mark.parametrize("edit, message", [
    (("-- section: trace", "-- section: tracing"), "unknown section 'tracing'"),
    (("-- section: upsert", "-- upsert"), "has no section upsert"),
    (("'iso8601'", "'epoch'"), "timestamp_format is one of iso8601, unix_seconds, not 'epoch'"),
    (("'events'                              as feed,", ""), "selects one row with the columns feed, target"),
    (("select 'events'", "select 'events' from nowhere"), "the declare section must be a select of constants"),
])
def test_a_broken_definition_is_refused_before_the_database_is_opened(sqlite_loader, edit, message):
    loader = sqlite_loader
    sql = loader.copy_sql()
    feed = sql / "feeds" / "events.sql"
    assert edit[0] in feed.read_text()
    feed.write_text(feed.read_text().replace(edit[0], edit[1], 1))
    result = loader.run(SAMPLE)
    assert result.code == 2 and message in result.stderr, result.stderr
    assert "events.sql" in result.stderr and not loader.db.exists()


def test_a_failing_statement_in_a_definition_names_its_file_and_line(loader):
    sql = loader.copy_sql()
    feed = sql / "feeds" / "events.sql"
    text = feed.read_text()
    line = text[:text.index("insert into events (")].count("\n") + 1
    feed.write_text(text.replace("insert into events (", "insert into events_typo ("))
    result = loader.run(SAMPLE)
    assert result.code == 1
    assert f"feeds/events.sql:{line}: " in result.stderr and "events_typo" in result.stderr
    assert loader.rows("select status from run_log") == [("failed",)]


def test_a_mistake_in_a_view_names_the_definition_not_the_stage_that_reads_it(loader):
    # SQLite compiles a view only when it is first read: by stage 03, which would take the blame
    sql = loader.copy_sql()
    feed = sql / "feeds" / "events.sql"
    text = feed.read_text()
    line = text[:text.index("create temp view feed_records")].count("\n") + 1
    feed.write_text(text.replace("nullif(trim(user_id), '')  as user_id", "nullif(trim(user_idd), '') as user_id"))
    result = loader.run(SAMPLE)
    assert result.code == 1
    assert f"feeds/events.sql:{line}: " in result.stderr and "user_idd" in result.stderr
    assert "03_parse_values" not in result.stderr


def test_trace_before_any_load_of_a_feed_says_its_table_does_not_exist_yet(loader):
    assert loader.run(SAMPLE).code == 0
    result = loader.run("--trace", "S1", "O-1", "--feed", "orders")
    assert result.code == 0
    assert "not in orders: there is no table to look in" in result.stdout
    assert "no load of the feed orders has created it yet" in result.stdout


def test_a_definition_outside_the_repository_by_path(tmp_path):
    loader = Loader(tmp_path)
    mine = tmp_path / "elsewhere" / "anything.sql"
    mine.parent.mkdir()
    mine.write_text((ROOT / "sql" / "feeds" / "orders.sql").read_text())
    result = loader.run(ORDERS_SAMPLE, "--feed", str(mine))
    assert result.code == 0 and result.summary["feed"] == "orders"  # the name it declares
    assert loader.run(ORDERS_SAMPLE, "--feed", "orders").summary["loaded"] == 0  # the same feed


def test_an_engine_twin_replaces_only_the_sections_it_holds(tmp_path):
    base = tmp_path / "mine.sql"
    base.write_text(EVENTS.read_text().replace(") without rowid;", ");"))  # a target for both engines
    twin = tmp_path / "mine.postgresql.sql"
    twin.write_text("-- PostgreSQL's trace\n\n-- section: trace\nselect * from events where event_id = cast(:key as text);\n")
    on_sqlite, on_postgresql = feeds.read(base, "sqlite"), feeds.read(base, "postgresql")
    assert "cast(:key as text)" not in on_sqlite.sections["trace"][0].text
    assert on_postgresql.sections["trace"][0].text.startswith("select * from events where event_id = cast(")
    assert on_postgresql.sections["trace"][0].where == f"{tmp_path.name}/mine.postgresql.sql:4"
    assert on_postgresql.sections["upsert"] == on_sqlite.sections["upsert"]
    twin.write_text("-- section: declare\nselect 'x' as feed;\n")
    with pytest.raises(Refused, match="the declare section lives in mine.sql only"):
        feeds.read(base, "postgresql")


def test_a_target_section_that_fails_on_a_new_database_names_its_line(tmp_path):
    """The check for another program's tables runs the target section in a scratch database
    first: a mistake there is told as the run would tell it, not as an internal error."""
    loader = Loader(tmp_path)
    sql = loader.copy_sql()
    definition = sql / "feeds" / "events.sql"
    definition.write_text(definition.read_text().replace("    user_id   text,\n", "    user_id   text,\n" * 2))
    result = loader.run(SAMPLE)
    assert result.code == 1 and "feeds/events.sql:" in result.stderr
    assert "duplicate column name: user_id" in result.stderr and "internal error" not in result.stderr
