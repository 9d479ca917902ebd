"""Lands the input records as text in a temporary table named by the header.

The runner knows no column names: whatever the header says becomes a column
of `landing`, and the feed's definition gives the text its meaning.
"""

from __future__ import annotations

from itertools import count, repeat
from operator import add
from typing import Iterable

from .csv_input import Batch

# The landing table's own columns and their types; header names may not start with '_'.
OWN_COLUMNS = {"_record_no": "integer primary key", "_source": "text", "_line_no": "integer",
               "_raw": "text", "_problem": "text"}


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_landing(db, header: list[str], feed_columns: list[str]) -> None:
    """landing, empty; landing_columns (the header) and feed_input_columns (what the
    feed declares it reads), both with each name's position, for stage 02 to compare."""
    columns = [f"{name} {kind}" for name, kind in OWN_COLUMNS.items()] + \
              [f"{quote_identifier(n)} text" for n in header]
    db.cursor.execute("drop table if exists landing")
    db.cursor.execute(f"create temp table landing ({', '.join(columns)})")
    for table, names in (("landing_columns", header), ("feed_input_columns", feed_columns)):
        db.cursor.execute(f"drop table if exists {table}")
        db.cursor.execute(f"create temp table {table} (name text not null, position integer not null)")
        db.land(table, ["name", "position"], ((n, i) for i, n in enumerate(names, start=1)))
    # each file's content, landed once it is read (sql/run/record_deliveries.sql)
    db.cursor.execute("drop table if exists landing_file")
    db.cursor.execute("create temp table landing_file (source text primary key, position integer not null, "
                      "sha256 text not null, delivery_id integer)")


def land_file(db, source: str, position: int, sha256: str) -> None:
    db.land("landing_file", ["source", "position", "sha256"], [(source, position, sha256)])


def land(db, header: list[str], batches: Iterable[Batch], source: str | None, first_record_no: int) -> int:
    """Stream the batches into landing, numbering the records from first_record_no;
    returns the next record number. source None: each row starts with its own (a replay's)."""
    record_no = first_record_no
    fields = list(map(quote_identifier, header))
    for batch in batches:
        own = [c for c in OWN_COLUMNS if not (batch.plain and c == "_problem")]
        # (record_no, source) + each row, built in C: no Python code per record
        prefix = zip(count(record_no)) if source is None else zip(count(record_no), repeat(source))
        db.land("landing", own + fields, map(add, prefix, batch.rows))
        record_no += len(batch.rows)
    return record_no
