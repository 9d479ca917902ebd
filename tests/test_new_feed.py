"""--new-feed: a definition written from a file, which then loads that file unchanged, on both
engines. The files are shaped like real ones (a ticker's monthly prices with month names, a
housing table keyed by city, year and month, epoch-stamped orders with zero-padded numbers, a
JSON Lines feed with dates alone); the rows are read back with SQL and compared with the
newest record of each key, computed here from the file."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import ROOT, make_loader

STOCKS = '''symbol,name,date,price
MSFT,"Microsoft Corp., Redmond",Jan 1 2000,39.81
MSFT,"Microsoft Corp., Redmond",Feb 1 2000,36.35
AMZN,Amazon,Jan 1 2000,64.56
AMZN,Amazon,Mar 1 2000,67
IBM,"International Business Machines ""Big Blue""",Dec 1 2009,130.9
'''

# empty numbers; (a month written 05 in a later file is the same key: below)
HOUSING = """city,year,month,sales,volume,median,listings,inventory,date
Abilene,2000,1,72,5380000,71400,701,6.3,2000
Abilene,2000,2,98,6505000,58700,746,6.6,2000.08333333
Abilene,2000,3,130,9285000,58100,784,6.8,2000.16666667
Beaumont,2009,5,,,,,,2009.33333333
Beaumont,2009,6,150,20530000,101400,1625,9.4,2009.41666667
"""

ORDERS = """store_id,order_id,zip,updated_at,customer,total,card,shipped
1,00123,02134,1736928000,"Lovelace, Ada",25.50,4111111111111111111,
1,00123,02134,1736931600,"Lovelace, Ada",27,4111111111111111111,2025-01-16
2,00124,10001,1736935200,Grace Hopper,-3.25,,2025-01-16
12,00124,90210,1736938800,,0.5,5500000000000004,
"""

VISITS = [{"visit": "v-1", "day": "2024-03-05", "count": 3, "ok": True, "note": None},
          {"visit": "v-2", "day": "2024-03-06", "count": 0, "ok": False, "note": "first, then"},
          {"visit": "v-1", "day": "2024-03-07", "count": 4, "ok": True, "note": "again"}]

FILES = {
    # name: (file name, text, --key, --timestamp, expected column types)
    "stocks": ("stocks.csv", STOCKS, "symbol", "date",
               {"symbol": "text", "name": "text", "date": "timestamp", "price": "decimal"}),
    "housing": ("tx_housing.csv", HOUSING, "city,year,month", "year,month",
                {"city": "text", "year": "integer", "month": "integer", "sales": "integer", "volume": "integer",
                 "median": "integer", "listings": "integer", "inventory": "decimal", "date": "decimal"}),
    "shop_orders": ("orders.csv", ORDERS, "store_id,order_id", "updated_at",
                    {"store_id": "integer", "order_id": "text", "zip": "text", "updated_at": "timestamp",
                     "customer": "text", "total": "decimal", "card": "text", "shipped": "timestamp"}),
    "visits": ("visits.jsonl", "".join(json.dumps(v) + "\n" for v in VISITS), "visit", "day",
               {"visit": "text", "day": "timestamp", "count": "integer", "ok": "text", "note": "text"}),
}


def new_feed(loader, name: str, file: Path, key: str, timestamp: str, *more):
    return loader.run("--new-feed", name, file, "--key", key, "--timestamp", timestamp, *more, now=None)


def records(file_name: str, text: str) -> list[dict]:
    if file_name.endswith(".jsonl"):
        return [{k: (None if v is None else json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in
                 json.loads(line).items()} for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_loader(request, tmp_path):
    loader = make_loader(request.param, tmp_path, request)
    loader.copy_sql()  # the definitions are written into this copy's feeds/
    return loader


@pytest.mark.parametrize("name", FILES)
def test_a_written_definition_loads_its_file_unchanged(engine_loader, name):
    loader = engine_loader
    file_name, text, key, timestamp, types = FILES[name]
    path = loader.tmp / file_name
    path.write_text(text, encoding="utf-8")
    written = new_feed(loader, name, path, key, timestamp)
    assert written.code == 0, written.stderr
    summary = written.summary
    definition = loader.sql_dir / "feeds" / f"{name}.sql"
    assert summary["definition"] == str(definition) and definition.is_file()
    assert summary["columns"] == types
    assert f"--feed {name}" in written.stderr and str(definition) in written.stderr
    # the command it suggests, run as given, loads the file: nothing rejected
    command = summary["load_command"]
    assert command.endswith(f"--feed {name} --sql-dir {loader.sql_dir}") or f"--feed {name}" in command
    loaded = loader.run(path, "--feed", name)
    assert loaded.code == 0, loaded.stderr
    s = loaded.summary
    assert s["rejected"] == 0 and s["input_records"] == len(records(file_name, text)), s
    loader.assert_accounted(s)
    # the target holds each key's newest record, typed (a rerun changes nothing)
    assert loader.run(path, "--feed", name).summary["loaded"] == 0
    check_target(loader, name, file_name, text, key.split(","), timestamp.split(","), types)


def check_target(loader, name, file_name, text, key, timestamp, types):
    newest: dict = {}
    for record in records(file_name, text):
        canonical = tuple(str(int(record[k])) if types[k] == "integer" else record[k] for k in key)
        version = tuple(int(record[t]) for t in timestamp) if record[timestamp[0]].isdigit() else \
            record[timestamp[0]]
        if name == "stocks":  # 'Jan 1 2000': compared as dates
            from datetime import datetime
            version = datetime.strptime(record["date"], "%b %d %Y")
        if canonical not in newest or version > newest[canonical][0]:
            newest[canonical] = (version, record)
    values = [c for c in types if c not in key and not (len(timestamp) == 1 and c == timestamp[0])]
    columns = ", ".join(f'"{c}"' for c in [*key, *values])
    stored = loader.rows(f"select {columns} from {name}")
    assert len(stored) == len(newest)
    for row in stored:
        got = dict(zip([*key, *values], row))
        expected = newest[tuple(str(got[k]) for k in key)][1]
        for column in values:
            want = expected[column]
            if want is None or want == "":
                assert got[column] is None, (column, got)
            elif types[column] in ("integer", "decimal"):
                assert Decimal(str(got[column])) == Decimal(want), (column, got[column], want)
            elif types[column] == "timestamp":
                assert got[column] == want + "T00:00:00"
            else:
                assert got[column] == want, (column, got[column], want)


def test_keys_typed_as_integers_are_one_key_however_written(engine_loader):
    """Abilene 2000 01 and Abilene 2000 1 are one key; --trace finds it from either."""
    loader = engine_loader
    first = loader.tmp / "tx_housing.csv"
    first.write_text(HOUSING)
    assert new_feed(loader, "housing", first, "city,year,month", "year,month").code == 0
    assert loader.run(first, "--feed", "housing").code == 0
    header = "city,year,month,sales,volume,median,listings,inventory,date\n"
    # Beaumont 2009 6, the newest month, again: as stored (a repeat), then with its figures
    # filled in (a restatement at the same version), each key part written otherwise
    repeat, restated = loader.tmp / "repeat.csv", loader.tmp / "restated.csv"
    repeat.write_text(header + "Beaumont,2009,06,150,20530000,101400,1625,9.4,2009.41666667\n")
    restated.write_text(header + "Beaumont,+2009,006,151,20530000,101400,1625,9.4,2009.41666667\n")
    s = loader.run(repeat, "--feed", "housing").summary
    assert (s["inserted"], s["stale"], s["differing"], s["rejected"]) == (0, 1, 0, 0), s
    s = loader.run(restated, "--feed", "housing").summary
    assert (s["inserted"], s["stale"], s["differing"], s["rejected"]) == (0, 0, 1, 0), s
    assert loader.rows("select count(*) from housing")[0][0] == 5
    trace = loader.run("--trace", "Beaumont", "2009", "06", "--feed", "housing")
    assert trace.code == 0, trace.stderr
    assert 'housing: city, year, month ["Beaumont","2009","6"]' in trace.stdout
    assert "now in housing: city=Beaumont, year=2009, month=6, year_month=2009-06-01T00:00:00, sales=150" \
        in trace.stdout
    assert "year_month" in trace.stdout.splitlines()[2]  # the feed's own name for its version


def test_dry_run_prints_the_definition_and_writes_nothing(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "stocks.csv"
    path.write_text(STOCKS)
    result = new_feed(loader, "stocks", path, "symbol", "date", "--dry-run")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("-- The feed stocks") and "-- section: upsert" in result.stdout
    assert "typed_timestamp(date, '%b %d %Y') as _ts_text" in result.stdout
    assert not (loader.sql_dir / "feeds" / "stocks.sql").exists()
    assert not loader.db.exists()  # no database opened


def test_names_that_are_keywords_or_odd_are_quoted(engine_loader):
    loader = engine_loader
    path = loader.tmp / "odd.csv"
    path.write_text('Order,Unit Price,select,when\nA-1,1.50,x,2024-03-05T10:00:00Z\nA-2,2,y,2024-03-05 11:00\n')
    result = new_feed(loader, "odd", path, "order", "when")
    assert result.code == 0, result.stderr
    text = (loader.sql_dir / "feeds" / "odd.sql").read_text()
    for column, kind in (('"order"', "text not null"), ('"unit price"', "numeric"), ('"select"', "text"),
                         ('"when"', "text not null")):
        assert re.search(f"^    {re.escape(column)} +{kind},", text, re.MULTILINE), column
    s = loader.run(path, "--feed", "odd").summary
    assert s["inserted"] == 2 and s["rejected"] == 0
    assert loader.rows('select "order", "when", "unit price" from odd order by 1') == [
        ("A-1", "2024-03-05T10:00:00", 1.5), ("A-2", "2024-03-05T11:00:00", 2)]


def test_a_later_file_with_a_bad_value_is_rejected_with_the_columns_words(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "tx_housing.csv"
    path.write_text(HOUSING)
    assert new_feed(loader, "housing", path, "city,year,month", "year,month").code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("city,year,month,sales,volume,median,listings,inventory,date\n"
                   "Abilene,2001,1,7.5,1,1,1,1,2001\n"
                   "Abilene,2001,2,7,1,1,1,1.2.3,2001\n"
                   "Abilene,2001,13,7,1,1,1,1,2001\n"
                   "Abilene,2001,3,7,1,1,1,1234567890123456,2001\n")
    s = loader.run(bad, "--feed", "housing").summary
    assert s["rejected"] == 4
    assert [r[0] for r in loader.rows("select reason from dead_letter order by line_no")] == [
        "sales is not an integer: 7.5", "inventory is not a number: 1.2.3",
        "year_month is not a valid timestamp: 2001-13",
        "inventory has more than 15 digits: 1234567890123456"]


REFUSED = [
    # (what, arguments after the file, the file's text, a fragment of the message)
    ("a keyword", ["select", "id", "ts"], "id,ts\n1,2024-01-01\n", "not an SQL keyword"),
    ("not a name", ["My-Feed", "id", "ts"], "id,ts\n1,2024-01-01\n", "lower-case letters, digits"),
    ("a loader table", ["run_log", "id", "ts"], "id,ts\n1,2024-01-01\n", "one of the loader's own tables"),
    ("another feed's target", ["orders_history", "id", "ts"], "id,ts\n1,2024-01-01\n",
     "loads the table orders"),
    ("a definition that exists", ["events", "id", "ts"], "id,ts\n1,2024-01-01\n", "never replaces a definition"),
    ("no such key", ["mine", "ident", "ts"], "id,ts\n1,2024-01-01\n", "has no column 'ident': its columns are id, ts"),
    ("no such timestamp", ["mine", "id", "when"], "id,ts\n1,2024-01-01\n", "has no column 'when'"),
    ("a comma in the header", ["mine", "id", "ts"], 'id,ts,"a,b"\n1,2024-01-01,x\n', "a comma or a double quote"),
    ("an empty file", ["mine", "id", "ts"], "", "is empty"),
    ("a header alone", ["mine", "id", "ts"], "id,ts\n", "no records"),
    ("empty keys", ["mine", "id", "ts"], "id,ts\n1,2024-01-01\n,2024-01-02\n ,2024-01-03\n",
     "2 of 3 records have an empty id (the first on line 3)"),
    ("unreadable timestamps", ["mine", "id", "ts"],
     "id,ts\n1,2024-01-01\n2,soon\n3,2024-02-30\n4,later\n5,never\n", "4 ts values are not timestamps in a form "
     "the loader reads ('soon', '2024-02-30', 'later', ...)"),
]


@pytest.mark.parametrize("what, arguments, text, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_one_message_and_nothing_written(tmp_path, what, arguments, text, message):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    before = {p.name: p.read_bytes() for p in (loader.sql_dir / "feeds").iterdir()}
    path = tmp_path / "in.csv"
    path.write_text(text)
    name, key, timestamp = arguments
    result = new_feed(loader, name, path, key, timestamp)
    assert result.code == 2 and message in result.stderr and result.stdout == "", (result.stderr, message)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in (loader.sql_dir / "feeds").iterdir()} == before
    assert not loader.db.exists()


def test_a_link_where_the_definition_would_go_is_never_written_through(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    elsewhere = tmp_path / "precious.txt"
    link = loader.sql_dir / "feeds" / "mine.sql"
    os.symlink(elsewhere, link)  # dangling: an exclusive create must not follow it
    path = tmp_path / "in.csv"
    path.write_text("id,ts\n1,2024-01-01\n")
    result = new_feed(loader, "mine", path, "id", "ts")
    assert result.code == 2 and "exists" in result.stderr
    assert not elsewhere.exists() and link.is_symlink()


def test_the_shipped_files_are_untouched_by_default(tmp_path):
    """Without --sql-dir the definition goes to the project's sql/feeds/: refused there when the
    name is taken, and the shipped file unchanged."""
    shipped = ROOT / "sql" / "feeds" / "orders.sql"
    before = shipped.read_bytes()
    path = tmp_path / "in.csv"
    path.write_text(ORDERS)
    import subprocess
    import sys
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), "--new-feed", "orders", str(path), "--key",
                           "store_id,order_id", "--timestamp", "updated_at"], capture_output=True, text=True)
    assert done.returncode == 2 and "never replaces a definition" in done.stderr
    assert shipped.read_bytes() == before


def test_a_definition_with_a_form_that_is_none_fails_saying_so(engine_loader):
    """A mistake in a definition (typed_timestamp's form '%Q'): the load fails naming it, on
    SQLite too, whose driver drops what a Python function raised."""
    loader = engine_loader
    path = loader.tmp / "stocks.csv"
    path.write_text(STOCKS)
    assert new_feed(loader, "stocks", path, "symbol", "date").code == 0
    definition = loader.sql_dir / "feeds" / "stocks.sql"
    definition.write_text(definition.read_text().replace("'%b %d %Y'", "'%Q %d %Y'"))
    result = loader.run(path, "--feed", "stocks")
    assert result.code in (1, 2) and "typed_timestamp: unknown form '%Q %d %Y': unknown directive %Q" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_timestamp_column_besides_the_version_is_checked(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    assert new_feed(loader, "shop_orders", path, "store_id,order_id", "updated_at").code == 0
    later = tmp_path / "later.csv"
    later.write_text(ORDERS.splitlines()[0] + "\n1,00125,02134,1736940000,x,1,,2025-02-30\n"
                     "1,00126,02134,1736940000,x,1,,2025-02-03T10:00:00+01:00\n")
    s = loader.run(later, "--feed", "shop_orders").summary
    assert (s["inserted"], s["rejected"]) == (1, 1), s
    assert loader.rows("select reason from dead_letter") == [("shipped is not a valid timestamp: 2025-02-30",)]
    assert loader.rows("select shipped from shop_orders where order_id = '00126'") == [("2025-02-03T09:00:00",)]


EMPLOYMENT = """series,year,month,value
nonfarm,2006,01,135450
nonfarm,2006,02,135762
private,2006,01,113603
private,2006,02,113884
"""


def test_year_and_month_with_leading_zeros_as_the_version_of_another_key(engine_loader):
    """us-employment's shape: the months written 01-12 (so text, as written), and year and
    month the version, not the key: each an input column once."""
    loader = engine_loader
    path = loader.tmp / "employment.csv"
    path.write_text(EMPLOYMENT)
    written = new_feed(loader, "employment", path, "series", "year,month")
    assert written.code == 0, written.stderr
    assert written.summary["columns"] == {"series": "text", "year": "integer", "month": "text", "value": "integer"}
    text = (loader.sql_dir / "feeds" / "employment.sql").read_text()
    assert "'series, year, month, value' as input_columns" in text
    s = loader.run(path, "--feed", "employment").summary
    assert (s["inserted"], s["superseded"], s["rejected"]) == (2, 2, 0), s
    assert loader.rows("select series, year_month, value from employment order by 1") == [
        ("nonfarm", "2006-02-01T00:00:00", 135762), ("private", "2006-02-01T00:00:00", 113884)]


def test_eight_digit_dates_are_dates_not_seconds(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "ymd.csv"
    path.write_text("k,d,v\na,20240305,1\nb,20240306,2\n")
    written = new_feed(loader, "ymd", path, "k", "d")
    assert written.code == 0 and written.summary["timestamp_form"] == "%Y%m%d", written.stderr
    assert loader.run(path, "--feed", "ymd").code == 0
    assert loader.rows("select k, d from ymd order by k") == [("a", "2024-03-05T00:00:00"), ("b", "2024-03-06T00:00:00")]


def test_names_either_engine_keeps_for_itself(engine_loader):
    """SQLite's keywords that no identifier may be (nothing, raise) are quoted; provenance names
    step aside for the file's own; PostgreSQL's system columns are refused by name."""
    loader = engine_loader
    path = loader.tmp / "odd.csv"
    path.write_text("k,d,nothing,raise,source,loaded_source\na,2024-01-01,1,2,x,y\n")
    assert new_feed(loader, "odd", path, "k", "d").code == 0
    s = loader.run(path, "--feed", "odd").summary
    assert (s["inserted"], s["rejected"]) == (1, 0), s
    assert loader.rows('select "nothing", "raise", source, loaded_source, loader_source is not null from odd') == [
        (1, 2, "x", "y", True if loader.engine == "postgresql" else 1)]
    bbox = loader.tmp / "bbox.csv"
    bbox.write_text("k,d,xmin,xmax\na,2024-01-01,1,2\n")
    refused = new_feed(loader, "bbox", bbox, "k", "d")
    assert refused.code == 2 and "xmin, xmax" in refused.stderr and "rename it" in refused.stderr


def test_json_lines_under_another_name_with_format(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "cars.txt"
    path.write_text("".join(json.dumps(v) + "\n" for v in VISITS))
    written = new_feed(loader, "visits", path, "visit", "day", "--format", "jsonl")
    assert written.code == 0, written.stderr
    assert "--format jsonl" in (loader.sql_dir / "feeds" / "visits.sql").read_text()
    assert f"{path} --format jsonl --db" in written.summary["load_command"]
    assert loader.run(path, "--feed", "visits", "--format", "jsonl").summary["inserted"] == 2


def test_a_column_of_mixed_forms_is_refused_as_such(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "mixed.csv"
    path.write_text("k,d\na,2024-03-05\nb,2024/03/06\nc,Mar 7 2024\n")
    result = new_feed(loader, "mixed", path, "k", "d")
    assert result.code == 2 and "2 d values are written in another form than the first ('2024/03/06', " \
        "'Mar 7 2024')" in result.stderr


def test_unreadable_records_are_told(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "broken.csv"
    path.write_text("k,d,v\na,2024-03-05,1\nb,2024-03-06,2,3\nc,2024-03-07\n")
    result = new_feed(loader, "broken", path, "k", "d")
    assert result.code == 0 and "note: 2 records of" in result.stderr and result.summary["records_unreadable"] == 2


def test_trace_takes_a_keys_text_form_too(tmp_path):
    loader = make_loader("sqlite", tmp_path, None)
    loader.copy_sql()
    path = tmp_path / "tx_housing.csv"
    path.write_text(HOUSING)
    assert new_feed(loader, "housing", path, "city,year,month", "year,month").code == 0
    assert loader.run(path, "--feed", "housing").code == 0
    trace = loader.run("--trace", '["Abilene","2000","01"]', "--feed", "housing")
    assert 'now in housing: city=Abilene, year=2000, month=1' in trace.stdout, trace.stdout
