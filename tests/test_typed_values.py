"""The typing helpers feed definitions call (docs/helpers.md): typed_integer, typed_decimal and
typed_timestamp. One table of inputs and what each gives, asserted on both engines: on SQLite
the Python functions of loader/typed_values.py, on a connection opened as the loader opens one;
on PostgreSQL the functions sql/run/functions.postgresql.sql creates, in a session whose
DateStyle, TimeZone, IntervalStyle and lc_time are not the defaults (the results must not
depend on them). And on PostgreSQL: a helper whose definition differs is replaced, a current
one is left alone."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from conftest import ROOT
from loader import typed_values
from loader.sql_files import split_file

FUNCTIONS_SQL = ROOT / "sql" / "run" / "functions.postgresql.sql"
SAME = object()  # an unreadable timestamp: returned as written
HELPERS = ("key_text", "typed_integer", "typed_decimal", "typed_timestamp", "typed_timestamp_form",
           "typed_timestamp_read", "typed_is_timestamp")


def run_functions_hook(cursor) -> None:
    """sql/run/functions.postgresql.sql, as the loader runs it (split by the loader, its %
    escaped for the parameters every statement is given)."""
    for statement in split_file(FUNCTIONS_SQL):
        cursor.execute(statement.pyformat_text, {"run_id": None})


class Engine:
    def __init__(self, name: str, conn, close):
        self.name, self.conn, self.close = name, conn, close

    def call(self, function: str, *args):
        """function(args...), its arguments cast as the helpers declare them."""
        mark = "?" if self.name == "sqlite" else "%s"
        types = {"typed_integer": ["text"], "typed_decimal": ["text", "integer"],
                 "typed_timestamp": ["text", "text"], "typed_is_timestamp": ["text", "text"]}[function]
        sql = f"select {function}({', '.join(f'cast({mark} as {t})' for t in types)})"
        return self.conn.execute(sql, args).fetchone()[0]


@pytest.fixture(scope="module")
def pg_engine(postgres):
    """A fresh database, the functions hook run, in a session of unusual settings."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.execute("postgres", f"create database {name}")
    from loader.postgres_db import PostgresEngine
    db = PostgresEngine(postgres.url(name), lock_timeout=5)  # (the loader's session)
    for setting in ("datestyle = 'SQL, DMY'", "timezone = 'Pacific/Chatham'", "intervalstyle = 'sql_standard'",
                    "lc_time = 'C.UTF-8'"):
        db.cursor.execute(f"set {setting}")
    run_functions_hook(db.cursor)
    yield Engine("postgresql", db.conn, db.close)
    db.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    from loader.sqlite_db import SQLiteEngine
    db = SQLiteEngine(str(tmp_path_factory.mktemp("typed") / "typed.db"), lock_timeout=5)  # as the loader opens it
    yield Engine("sqlite", db.conn, db.close)
    db.close()


# -- typed_integer --------------------------------------------------------------

INTEGERS = [
    ("0", "0"), ("7", "7"), ("42", "42"), ("007", "7"), ("+5", "5"), ("-5", "-5"), ("-0", "0"), ("+0", "0"),
    ("-000", "0"), ("-012", "-12"), ("  12  ", "12"), (" -3", "-3"),
    # at most 18 significant digits (a 64-bit integer holds every one of them)
    ("123456789012345678", "123456789012345678"), ("-999999999999999999", "-999999999999999999"),
    ("000123456789012345678", "123456789012345678"), ("1234567890123456789", None),
    ("-1000000000000000000", None),
    # blanks, and anything else
    (None, None), ("", None), ("   ", None), ("1.0", None), ("1.", None), ("1e3", None), ("1,000", None),
    ("1 000", None), ("1_000", None), ("--1", None), ("+-1", None), ("+", None), ("-", None), ("0x1F", None),
    ("\u0661\u0662", None), ("\uff11\uff12", None), ("\u00b2", None), ("\t12", None), ("12\n", None),
    ("NaN", None), ("Infinity", None),
]


@pytest.mark.parametrize("value, expected", INTEGERS, ids=[repr(v) for v, _ in INTEGERS])
def test_typed_integer(engine, value, expected):
    assert engine.call("typed_integer", value) == expected


# -- typed_decimal --------------------------------------------------------------

DECIMALS = [
    ("12", None, "12"), ("-3.5", None, "-3.5"), (".5", None, "0.5"), ("7.", None, "7"), ("+0.50", None, "0.5"),
    ("+012.340", None, "12.34"), ("-0.00", None, "0"), ("-0.50", None, "-0.5"), ("100", None, "100"),
    ("1.000", None, "1"), ("0", None, "0"), ("000", None, "0"), ("-.0", None, "0"), ("-.25", None, "-0.25"),
    ("  12.5  ", None, "12.5"), ("0.001", None, "0.001"), ("10.10", None, "10.1"),
    ("1" + "0" * 30, None, "1" + "0" * 30), ("0." + "0" * 40 + "1", None, "0." + "0" * 40 + "1"),
    # max_digits: every digit as written, leading and trailing zeros included
    ("123456789012345", 15, "123456789012345"), ("1234567890123456", 15, None),
    ("-1234567890.12345", 15, "-1234567890.12345"), ("1234567890.123456", 15, None),
    ("0001", 3, None), ("1.000", 3, None), ("1.00", 3, "1"), ("-12.5", 3, "-12.5"), ("12", 0, None),
    # blanks, and anything else
    (None, None, None), (None, 15, None), ("", None, None), ("  ", None, None), (".", None, None),
    ("-", None, None), ("+", None, None), ("+.", None, None), ("-.", None, None), ("1.2.3", None, None),
    ("1e3", None, None), ("1E3", None, None), ("1,000", None, None), ("1,5", None, None), ("--1", None, None),
    ("+-1", None, None), ("1-", None, None), ("1.-2", None, None), ("..5", None, None), ("0x1F", None, None),
    ("NaN", None, None), ("Infinity", None, None), ("\u0661\u0662.\u0665", None, None), ("1 000", None, None),
    ("$5", None, None), ("5%", None, None), ("1_000", None, None),
]
# longer than PostgreSQL's numeric holds (16,383 digits after the point): the same canonical text
LONG_DECIMALS = [
    ("9" * 20000, None, "9" * 20000),
    ("-000" + "1" * 17000 + "." + "2" * 10 + "00", None, "-" + "1" * 17000 + "." + "2" * 10),
    ("0." + "5" * 17000 + "000", None, "0." + "5" * 17000),
    ("-0." + "0" * 17000, None, "0"),
    ("." + "0" * 16999 + "1", 17000, "0." + "0" * 16999 + "1"),
    ("." + "0" * 16999 + "1", 16999, None),
]


@pytest.mark.parametrize("value, max_digits, expected", DECIMALS + LONG_DECIMALS,
                         ids=[f"{v!r:.40}, {m}" for v, m, _ in DECIMALS + LONG_DECIMALS])
def test_typed_decimal(engine, value, max_digits, expected):
    assert engine.call("typed_decimal", value, max_digits) == expected


# -- typed_timestamp ------------------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

TIMESTAMPS = [
    # iso8601: exactly what stage 03 reads
    ("2024-03-05T14:30:00", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05 14:30:00", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05", "iso8601", "2024-03-05T00:00:00"),
    ("2024-03-05T14:30", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05T14:30:59.999999", "iso8601", "2024-03-05T14:30:59"),  # fractions dropped
    ("2024-03-05T14:30:00Z", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05T14:30:00z", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05T14:30:00 Z", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05 14:30:00+02:00", "iso8601", "2024-03-05T12:30:00"),
    ("2024-03-05T01:30:00.5+02:00", "iso8601", "2024-03-04T23:30:00"),
    ("2024-12-31T23:30:00-05:30", "iso8601", "2025-01-01T05:00:00"),
    ("2024-03-05T14:30+14:00", "iso8601", "2024-03-05T00:30:00"),
    ("2024-03-05T14:30-14:59", "iso8601", "2024-03-06T05:29:00"),
    ("2024-03-05T14:30:00+00:00", "iso8601", "2024-03-05T14:30:00"),
    ("2024-02-29T00:00:00", "iso8601", "2024-02-29T00:00:00"),
    ("2000-02-29", "iso8601", "2000-02-29T00:00:00"),
    ("0001-01-01T00:00:00", "iso8601", "0001-01-01T00:00:00"),
    ("9999-12-31T23:59:59", "iso8601", "9999-12-31T23:59:59"),
    ("0001-01-01T01:00+01:00", "iso8601", "0001-01-01T00:00:00"),
    ("  2024-03-05T14:30:00  ", "iso8601", "2024-03-05T14:30:00"),
    ("2024-03-05T14:30:00+15:00", "iso8601", SAME), ("2024-03-05T14:30:00+02:60", "iso8601", SAME),
    ("2023-02-29", "iso8601", SAME), ("1900-02-29", "iso8601", SAME), ("2024-04-31", "iso8601", SAME),
    ("2024-02-30T10:00:00", "iso8601", SAME), ("2024-13-01", "iso8601", SAME), ("2024-00-10", "iso8601", SAME),
    ("2024-03-00", "iso8601", SAME), ("2024-03-05T24:00:00", "iso8601", SAME),
    ("2024-03-05T23:60:00", "iso8601", SAME), ("2024-03-05T23:59:60", "iso8601", SAME),
    ("0000-01-01", "iso8601", SAME), ("0001-01-01T00:30+01:00", "iso8601", SAME),  # before year 1 in UTC
    ("9999-12-31T23:30:00-01:00", "iso8601", SAME),  # after 9999
    ("2024-3-5", "iso8601", SAME), ("20240305", "iso8601", SAME), ("2024-03-05T14", "iso8601", SAME),
    ("2024-03-05T1430", "iso8601", SAME), ("2024-03-05t14:30:00", "iso8601", SAME),
    ("2024/03/05", "iso8601", SAME), ("yesterday", "iso8601", SAME), ("2024-03-05T14:30:00+0200", "iso8601", SAME),
    ("2024-03-05T14:30:00 +02:00", "iso8601", SAME), ("2024-03-05Z", "iso8601", SAME),
    ("2024-03-05T14:30:00.", "iso8601", SAME), ("2024-03-05T14:30.5", "iso8601", SAME),
    ("\u0662\u0660\u0662\u0664-03-05", "iso8601", SAME), ("", "iso8601", SAME), ("  ", "iso8601", SAME),
    (None, "iso8601", None),
    # date
    ("2024-03-05", "date", "2024-03-05T00:00:00"), (" 2024-03-05 ", "date", "2024-03-05T00:00:00"),
    ("0001-01-01", "date", "0001-01-01T00:00:00"), ("2024-02-29", "date", "2024-02-29T00:00:00"),
    ("2024-02-30", "date", SAME), ("0000-01-01", "date", SAME), ("2024-03-05T00:00:00", "date", SAME),
    ("2024-3-5", "date", SAME), ("", "date", SAME), (None, "date", None),
    # unix_seconds: 1 to 11 digits
    ("0", "unix_seconds", "1970-01-01T00:00:00"), ("1709600000", "unix_seconds", "2024-03-05T00:53:20"),
    ("99999999999", "unix_seconds", "5138-11-16T09:46:39"), ("00000000060", "unix_seconds", "1970-01-01T00:01:00"),
    (" 60 ", "unix_seconds", "1970-01-01T00:01:00"), ("100000000000", "unix_seconds", SAME),
    ("-1", "unix_seconds", SAME), ("+5", "unix_seconds", SAME), ("1.5", "unix_seconds", SAME),
    ("1e9", "unix_seconds", SAME), ("\u0661\u0662", "unix_seconds", SAME), ("", "unix_seconds", SAME),
    (None, "unix_seconds", None),
    # patterns: month names, English, any case
    ("Mar 05 2024", "%b %d %Y", "2024-03-05T00:00:00"), ("mar 5 2024", "%b %d %Y", "2024-03-05T00:00:00"),
    ("MAR 05 2024", "%b %d %Y", "2024-03-05T00:00:00"), ("mAr 05 2024", "%b %d %Y", "2024-03-05T00:00:00"),
    ("  Mar 05 2024 ", "%b %d %Y", "2024-03-05T00:00:00"),
    ("Sept 05 2024", "%b %d %Y", SAME), ("March 05 2024", "%b %d %Y", SAME), ("Mär 05 2024", "%b %d %Y", SAME),
    ("Mar  05 2024", "%b %d %Y", SAME),  # (one space in the pattern: one in the value)
    ("September 5, 2024", "%B %d, %Y", "2024-09-05T00:00:00"),
    ("SEPTEMBER 5, 2024", "%B %d, %Y", "2024-09-05T00:00:00"),
    ("sep 5, 2024", "%B %d, %Y", SAME),
    ("Augu\u017ft 1 2024", "%B %d %Y", SAME),  # (the long s folds to s only in Unicode case rules)
    ("5 March 24", "%d %B %y", "2024-03-05T00:00:00"),
    ("05-Mar-2024 14:30", "%d-%b-%Y %H:%M", "2024-03-05T14:30:00"),
    ("Mar 05 2024 at 14:30", "%b %d %Y at %H:%M", "2024-03-05T14:30:00"),
    # numbers, defaults, the calendar
    ("2009-5", "%Y-%m", "2009-05-01T00:00:00"), ("2009", "%Y", "2009-01-01T00:00:00"),
    ("31/04/2024", "%d/%m/%Y", SAME), ("30/04/2024", "%d/%m/%Y", "2024-04-30T00:00:00"),
    ("29/02/2023", "%d/%m/%Y", SAME), ("29/02/2024", "%d/%m/%Y", "2024-02-29T00:00:00"),
    ("1/2/2024", "%d/%m/%Y", "2024-02-01T00:00:00"), ("0/2/2024", "%d/%m/%Y", SAME),
    ("1/13/2024", "%d/%m/%Y", SAME), ("1/2/0000", "%d/%m/%Y", SAME), ("1/2/24", "%d/%m/%Y", SAME),
    ("123/2/2024", "%d/%m/%Y", SAME), ("\u0660\u0665/03/2024", "%d/%m/%Y", SAME),
    ("05.03.24 14:30", "%d.%m.%y %H:%M", "2024-03-05T14:30:00"),
    ("05.03.69 14:30", "%d.%m.%y %H:%M", "1969-03-05T14:30:00"),
    ("05.03.68 14:30", "%d.%m.%y %H:%M", "2068-03-05T14:30:00"),
    ("05.03.99 14:30", "%d.%m.%y %H:%M", "1999-03-05T14:30:00"),
    ("05.03.00 14:30", "%d.%m.%y %H:%M", "2000-03-05T14:30:00"),
    ("05.03.2024 14:30", "%d.%m.%y %H:%M", SAME), ("05x03.24 14:30", "%d.%m.%y %H:%M", SAME),
    ("2024-03-05 9:05:07", "%Y-%m-%d %H:%M:%S", "2024-03-05T09:05:07"),
    ("2024-03-05 9:5", "%Y-%m-%d %H:%M", SAME), ("2024-03-05 24:00", "%Y-%m-%d %H:%M", SAME),
    ("2024-03-05 23:60", "%Y-%m-%d %H:%M", SAME), ("2024-03-05 23:59:60", "%Y-%m-%d %H:%M:%S", SAME),
    ("2024-03-05T14:30", "%Y-%m-%dT%H:%M", "2024-03-05T14:30:00"),
    ("2024-03-05t14:30", "%Y-%m-%dT%H:%M", SAME), ("2024-03-05 extra", "%Y-%m-%d", SAME),
    ("x2024", "%Y", SAME),
    # %I with %p
    ("12:30 AM 05/03/2024", "%I:%M %p %d/%m/%Y", "2024-03-05T00:30:00"),
    ("12:30 PM 05/03/2024", "%I:%M %p %d/%m/%Y", "2024-03-05T12:30:00"),
    ("1:05 pm 05/03/2024", "%I:%M %p %d/%m/%Y", "2024-03-05T13:05:00"),
    ("11:59 Pm 05/03/2024", "%I:%M %p %d/%m/%Y", "2024-03-05T23:59:00"),
    ("9:00 aM 05/03/2024", "%I:%M %p %d/%m/%Y", "2024-03-05T09:00:00"),
    ("00:30 AM 05/03/2024", "%I:%M %p %d/%m/%Y", SAME), ("13:00 PM 05/03/2024", "%I:%M %p %d/%m/%Y", SAME),
    ("12:30 XM 05/03/2024", "%I:%M %p %d/%m/%Y", SAME),
    ("3/5/2024 2:07:09 PM", "%m/%d/%Y %I:%M:%S %p", "2024-03-05T14:07:09"),
    # %z: Z, +HH:MM or +HHMM, to UTC
    ("2024-03-05T14:30:00+0200", "%Y-%m-%dT%H:%M:%S%z", "2024-03-05T12:30:00"),
    ("2024-03-05T14:30:00+02:00", "%Y-%m-%dT%H:%M:%S%z", "2024-03-05T12:30:00"),
    ("2024-03-05T14:30:00Z", "%Y-%m-%dT%H:%M:%S%z", "2024-03-05T14:30:00"),
    ("2024-03-05T14:30:00-0530", "%Y-%m-%dT%H:%M:%S%z", "2024-03-05T20:00:00"),
    ("2024-03-05T14:30:00+2359", "%Y-%m-%dT%H:%M:%S%z", "2024-03-04T14:31:00"),
    ("2024-03-05T14:30:00+2400", "%Y-%m-%dT%H:%M:%S%z", SAME),
    ("2024-03-05T14:30:00+0260", "%Y-%m-%dT%H:%M:%S%z", SAME),
    ("2024-03-05T14:30:00z", "%Y-%m-%dT%H:%M:%S%z", SAME), ("2024-03-05T14:30:00+02", "%Y-%m-%dT%H:%M:%S%z", SAME),
    ("2024-03-05T14:30:00+02:0", "%Y-%m-%dT%H:%M:%S%z", SAME),
    ("01/01/2024 00:30 +0100", "%d/%m/%Y %H:%M %z", "2023-12-31T23:30:00"),
    ("01/01/0001 00:30 +0100", "%d/%m/%Y %H:%M %z", SAME), ("31/12/9999 23:30 -0100", "%d/%m/%Y %H:%M %z", SAME),
    ("+0100 2024-03-05 10:00", "%z %Y-%m-%d %H:%M", "2024-03-05T09:00:00"),
    ("5 Mar 2024 10:00:00 -01:30", "%d %b %Y %H:%M:%S %z", "2024-03-05T11:30:00"),
    ("20240305143000Z", "%Y%m%d%H%M%S%z", "2024-03-05T14:30:00"),
    # %% and the other characters, each itself (regular expressions' included)
    ("100% 2024", "100%% %Y", "2024-01-01T00:00:00"), ("100 2024", "100%% %Y", SAME),
    ("[2024] (03) {05} $^.*+?|\\ 7", "[%Y] (%m) {%d} $^.*+?|\\ %H", "2024-03-05T07:00:00"),
    ("2024x03", "%Y.%m", SAME), ("2024-03", "%Y|%m", SAME),
    ("é 2024", "é %Y", "2024-01-01T00:00:00"), ("e 2024", "é %Y", SAME),
    # directives side by side: %m %d %H %I take two digits where they can
    ("20240305", "%Y%m%d", "2024-03-05T00:00:00"), ("20240305143000", "%Y%m%d%H%M%S", "2024-03-05T14:30:00"),
    ("2024111", "%Y%m%d", "2024-11-01T00:00:00"), ("2024315", "%Y%m%d", SAME),
    ("930", "%H%M %Y", SAME), ("930 2024", "%H%M %Y", "2024-01-01T09:30:00"),
    (None, "%d/%m/%Y", None), ("", "%d/%m/%Y", SAME), ("  ", "%d/%m/%Y", SAME),
]
TIMESTAMPS += [(f"{name[:3].lower()} 1 2024", "%b %d %Y", f"2024-{n:02d}-01T00:00:00") for n, name in enumerate(MONTHS, 1)]
TIMESTAMPS += [(f"{name.upper()} 1 2024", "%B %d %Y", f"2024-{n:02d}-01T00:00:00") for n, name in enumerate(MONTHS, 1)]
TIMESTAMPS += [(f"1 {name} 2024", "%d %B %Y", f"2024-{n:02d}-01T00:00:00") for n, name in enumerate(MONTHS, 1)]


@pytest.mark.parametrize("value, form, expected", TIMESTAMPS, ids=[f"{v!r}, {f!r}" for v, f, _ in TIMESTAMPS])
def test_typed_timestamp(engine, value, form, expected):
    assert engine.call("typed_timestamp", value, form) == (value if expected is SAME else expected)


@pytest.mark.parametrize("value, form, expected", TIMESTAMPS, ids=[f"{v!r}, {f!r}" for v, f, _ in TIMESTAMPS])
def test_typed_is_timestamp_says_whether_typed_timestamp_reads_a_value(engine, value, form, expected):
    """What typed_timestamp's answer alone cannot say: a value given back unread may look like
    a reading (2024-02-30T00:00:00, or an ISO text under another form)."""
    want = None if value is None else 0 if expected is SAME else 1
    assert engine.call("typed_is_timestamp", value, form) == want


def test_typed_is_timestamp_tells_a_reading_from_a_value_that_only_looks_like_one(engine):
    assert engine.call("typed_is_timestamp", "2024-01-05T00:00:00", "iso8601") == 1
    assert engine.call("typed_is_timestamp", "2024-02-30T00:00:00", "iso8601") == 0
    assert engine.call("typed_is_timestamp", "2024-01-05T00:00:00", "%d/%m/%Y") == 0
    assert engine.call("typed_is_timestamp", " 05/01/2024 ", "%d/%m/%Y") == 1


def test_the_spec_examples_of_typed_timestamp(engine):
    assert engine.call("typed_timestamp", "Mar 05 2024", "%b %d %Y") == "2024-03-05T00:00:00"
    assert engine.call("typed_timestamp", "2024-03-05 14:30:00+02:00", "iso8601") == "2024-03-05T12:30:00"
    assert engine.call("typed_timestamp", "1709600000", "unix_seconds") == "2024-03-05T00:53:20"
    assert engine.call("typed_timestamp", "2009-5", "%Y-%m") == "2009-05-01T00:00:00"
    assert engine.call("typed_timestamp", "31/04/2024", "%d/%m/%Y") == "31/04/2024"


UNKNOWN_FORMS = [
    ("iso", "typed_timestamp: unknown form 'iso'"),
    ("ISO8601", "typed_timestamp: unknown form 'ISO8601'"),
    ("", "typed_timestamp: unknown form ''"),
    ("Y-m-d", "typed_timestamp: unknown form 'Y-m-d'"),
    (None, "typed_timestamp: unknown form NULL"),
    ("%Q %Y", "typed_timestamp: unknown form '%Q %Y': unknown directive %Q"),
    ("%a, %d %b %Y", "typed_timestamp: unknown form '%a, %d %b %Y': unknown directive %a"),
    ("%Y-%j", "typed_timestamp: unknown form '%Y-%j': unknown directive %j"),
    ("%Y %", "typed_timestamp: unknown form '%Y %': a % at its end"),
    ("%Y%y", "typed_timestamp: unknown form '%Y%y': the year is given twice (%Y and %y)"),
    ("%Y %Y", "typed_timestamp: unknown form '%Y %Y': the year is given twice (%Y and %Y)"),
    ("%m %b %Y", "typed_timestamp: unknown form '%m %b %Y': the month is given twice (%m and %b)"),
    ("%H %I %p %Y", "typed_timestamp: unknown form '%H %I %p %Y': the hour is given twice (%H and %I)"),
    ("%I:%M %Y", "typed_timestamp: unknown form '%I:%M %Y': %I needs %p (AM or PM), and %p needs %I"),
    ("%H %p %Y", "typed_timestamp: unknown form '%H %p %Y': %I needs %p (AM or PM), and %p needs %I"),
    ("%d/%m", "typed_timestamp: unknown form '%d/%m': no year (%Y or %y)"),
]


@pytest.mark.parametrize("form, message", UNKNOWN_FORMS, ids=[repr(f) for f, _ in UNKNOWN_FORMS])
@pytest.mark.parametrize("value", ["2024-03-05", None])
def test_an_unknown_form_is_an_error_whatever_the_value(engine, form, message, value):
    """A mistake in the definition, not in the data: raised for every record, NULL ones too.
    SQLite shows any exception raised in a Python function as "user-defined function raised
    exception" (Python's sqlite3 module drops the exception): the message is kept for the
    loader to tell (typed_values.last_error())."""
    typed_values.last_error()
    if engine.name == "sqlite":
        with pytest.raises(sqlite3.OperationalError, match="^user-defined function raised exception$"):
            engine.call("typed_timestamp", value, form)
        assert typed_values.last_error() == message
        assert typed_values.last_error() is None  # (told once)
    else:
        import psycopg
        with pytest.raises(psycopg.Error) as raised:
            engine.call("typed_timestamp", value, form)
        assert str(raised.value).splitlines()[0] == message


def test_python_readers_agree_with_the_sql_functions():
    """read_timestamp (None when unreadable) is typed_timestamp's reading; typed_timestamp
    gives the value itself back, unchanged (not trimmed), when it cannot be read."""
    assert typed_values.read_timestamp("Mar 05 2024", "%b %d %Y") == "2024-03-05T00:00:00"
    assert typed_values.read_timestamp(" 31/04/2024 ", "%d/%m/%Y") is None
    assert typed_values.typed_timestamp(" 31/04/2024 ", "%d/%m/%Y") == " 31/04/2024 "
    assert typed_values.read_timestamp(None, "iso8601") is None


# -- PostgreSQL: the same expressions, inlined; replaced when they differ ---------------

PATTERNS = ["%b %d %Y", "%B %d, %Y %I:%M %p", "%d/%m/%Y %H:%M:%S %z", "%Y%m%d%H%M%S%z", "100%% %Y",
            "[%Y] (%m) {%d} $^.*+?|\\ %H", "é %Y-%m", "%y.%m.%d %H:%M:%S"]


def test_postgresql_compiles_a_pattern_to_pythons_regular_expression(pg_engine):
    for pattern in PATTERNS:
        form = pg_engine.conn.execute("select typed_timestamp_form(%s)", (pattern,)).fetchone()[0]
        assert form[1] == "^" + typed_values.compile_pattern(pattern)[0].pattern + "$", pattern


def test_postgresql_inlines_the_helpers_and_compiles_a_constant_form_once(pg_engine):
    pg_engine.conn.execute("create temp table if not exists values_to_plan (v text)")
    plan = "\n".join(row[0] for row in pg_engine.conn.execute(
        "explain (verbose) select typed_integer(v), typed_decimal(v, 15), typed_timestamp(v, '%d/%m/%Y') "
        "from values_to_plan").fetchall())
    assert "typed_integer(" not in plan and "typed_decimal(" not in plan and "typed_timestamp(" not in plan
    assert "typed_timestamp_form(" not in plan  # (folded: the planner called it, once)
    assert "typed_timestamp_read(v, '{split," in plan


def helper_rows(cursor) -> dict:
    """name -> (oid, xmin, prosrc) of the helpers in the current schema."""
    return {name: (oid, xmin, src) for name, oid, xmin, src in cursor.execute(
        "select proname, oid, xmin::text, prosrc from pg_proc "
        "where pronamespace = current_schema()::regnamespace and proname = any(%s)", (list(HELPERS),))}


# what the release before these helpers ran (sql/run/functions.postgresql.sql, schema version 7)
KEY_TEXT_BEFORE = """do $$
begin
    if to_regprocedure('key_text(text[])') is null then
        create function key_text(variadic parts text[]) returns text
        language sql immutable parallel safe as
        'select case when array_position(parts, null) is not null then null
                     when cardinality(parts) = 1 then parts[1]
                     else array_to_json(parts)::text end';
    end if;
end
$$"""


def test_a_helper_whose_definition_differs_is_replaced_and_a_current_one_left_alone(postgres):
    import psycopg
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.execute("postgres", f"create database {name}")
    with psycopg.connect(postgres.url(name), autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(KEY_TEXT_BEFORE)  # a database of the release before
        cursor.execute("create function typed_integer(value text) returns text language sql immutable "
                       "as 'select ''an older body'''")  # an earlier definition
        cursor.execute("create function typed_decimal(v text, digits integer) returns text language sql "
                       "immutable as 'select v'")  # other argument names: "or replace" cannot change them
        cursor.execute("create function typed_timestamp(value text, form text) returns text language sql "
                       "stable as 'select value'")  # the same arguments, another volatility
        before = helper_rows(cursor)
        run_functions_hook(cursor)
        after = helper_rows(cursor)
        assert after["key_text"] == before["key_text"]  # the same definition: untouched
        for replaced in ("typed_integer", "typed_decimal", "typed_timestamp"):
            assert after[replaced][1:] != before[replaced][1:], replaced
        assert cursor.execute("select typed_integer('007'), typed_decimal('+1.50', 3), "
                              "typed_timestamp('Mar 05 2024', '%b %d %Y')").fetchone() == \
            ("7", "1.5", "2024-03-05T00:00:00")
        assert cursor.execute("select count(*) from pg_proc where proname = 'typed_decimal'").fetchone()[0] == 1

        run_functions_hook(cursor)  # current: no DDL, nothing rewritten
        assert helper_rows(cursor) == after
        assert set(after) == set(HELPERS)
