"""Streams a CSV file as records the runner can land: no column names known here.

Each record keeps its exact raw text and the line it starts on, so a rejected
record can be shown to a person as it was in the file. A record that cannot be
read into the header's fields is not an error here: it carries a `problem`
that the SQL stages turn into a rejection.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterator

from .errors import Refused

# A field of several megabytes is data, not an attack on a parser; the default
# limit (128 KiB) would reject it.
csv.field_size_limit(256 * 1024 * 1024)


@dataclass
class Record:
    line_no: int
    raw: str
    problem: str | None
    fields: list[str] | None


class _LineFeed:
    """Hands csv.reader one decoded line at a time and remembers what it took,
    so each record's raw text (several lines for a quoted newline) is known."""

    def __init__(self, binary_lines):
        self._lines = binary_lines
        self.line_no = 0
        self.taken: list[str] = []
        self.bad_bytes = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        data = next(self._lines)
        self.line_no += 1
        if self.line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]  # a UTF-8 byte order mark is not part of the first column's name
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_bytes = True
            line = data.decode("utf-8", "backslashreplace")
        self.taken.append(line)
        return line


def read_csv(binary_file, source: str) -> tuple[list[str], Iterator[Record]]:
    """The normalised header and a lazy stream of the records after it."""
    feed = _LineFeed(iter(binary_file))
    reader = csv.reader(feed, strict=True)
    header_record = _next_record(reader, feed)
    if header_record is None:
        raise Refused(f"{source} is empty: expected a header row naming the columns")
    if header_record.problem:
        raise Refused(f"{source}: the header row (line {header_record.line_no}) {header_record.problem}")
    header = [name.strip().lower() for name in header_record.fields]
    check_header(header, source)
    return header, _records(reader, feed, len(header))


def _records(reader, feed: _LineFeed, width: int) -> Iterator[Record]:
    while (record := _next_record(reader, feed)) is not None:
        if record.problem is None and len(record.fields) != width:
            record.problem = f"has {len(record.fields)} fields, the header has {width}"
        if record.problem is not None:
            record.fields = None
        yield record


def _next_record(reader, feed: _LineFeed) -> Record | None:
    """The next non-blank record, or None at the end of the file."""
    while True:
        feed.taken.clear()
        feed.bad_bytes = False
        start = feed.line_no + 1
        problem = None
        try:
            fields = next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            fields, problem = None, f"cannot be parsed as CSV: {exc}"
        raw = "".join(feed.taken).rstrip("\r\n")
        if not raw.strip():
            continue  # a blank (or whitespace-only) line is not a record
        if feed.bad_bytes:
            problem = "is not valid UTF-8 (undecodable bytes shown as \\x..)"
        elif "\x00" in raw:
            problem, raw = "contains a NUL byte", raw.replace("\x00", "\\x00")
        return Record(start, raw, problem, fields)


# SQLite allows 2,000 columns and PostgreSQL 1,600; landing adds its own five.
MAX_COLUMNS = 1500


def check_header(header: list[str], source: str) -> None:
    if len(header) > MAX_COLUMNS:
        raise Refused(f"{source}: the header has {len(header)} columns; at most {MAX_COLUMNS} are supported")
    if any(not name for name in header):
        raise Refused(f"{source}: the header row has an empty column name: {header}")
    seen = set()
    for name in header:
        if name in seen:
            raise Refused(f"{source}: the header names the column '{name}' twice")
        seen.add(name)
    for name in header:
        if name.startswith("_"):
            raise Refused(f"{source}: the header column '{name}' starts with '_', "
                          "which is reserved for the landing table's own columns")


def parse_record(raw: str, header: list[str]) -> tuple[list[str] | None, str | None]:
    """One record's raw text parsed again with its file's header (for a replay)."""
    try:
        rows = list(csv.reader(io.StringIO(raw), strict=True))
    except csv.Error as exc:
        return None, f"cannot be parsed as CSV: {exc}"
    fields = rows[0] if len(rows) == 1 else None
    if fields is None or len(fields) != len(header):
        return None, f"has {len(fields) if fields else len(rows)} fields, the header has {len(header)}"
    return fields, None
