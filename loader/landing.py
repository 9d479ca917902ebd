"""Lands the input records as text in a temporary table named by the header.

The runner knows no column names: whatever the header says becomes a column
of `landing`, and the SQL stages give the text its meaning.
"""

from __future__ import annotations

from typing import Iterable

from .csv_input import Record

# The landing table's own columns; header names may not start with '_'.
OWN_COLUMNS = ("_record_no", "_source", "_line_no", "_raw", "_problem")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_landing(cursor, header: list[str]) -> None:
    columns = [f"{c} text" for c in OWN_COLUMNS[1:]] + [f"{quote_identifier(n)} text" for n in header]
    cursor.execute("drop table if exists landing")
    cursor.execute(f"create temp table landing (_record_no integer primary key, {', '.join(columns)})")
    cursor.execute("drop table if exists landing_columns")
    cursor.execute("create temp table landing_columns (name text not null)")
    cursor.executemany("insert into landing_columns (name) values (?)", [(n,) for n in header])


def land(cursor, header: list[str], records: Iterable[Record], source: str, first_record_no: int) -> int:
    """Insert the records (streamed, never held in a list); returns the next record number."""
    placeholders = ", ".join("?" * (len(OWN_COLUMNS) + len(header)))
    empty = (None,) * len(header)
    counter = [first_record_no]

    def rows():
        for record in records:
            yield (counter[0], source, record.line_no, record.raw, record.problem,
                   *(record.fields if record.fields is not None else empty))
            counter[0] += 1

    cursor.executemany(f"insert into landing values ({placeholders})", rows())
    return counter[0]
