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
from itertools import chain, count, repeat
from operator import add
from typing import Iterable, Iterator, NamedTuple

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

    def row(self, width: int) -> tuple:
        """As landing takes it: (line_no, raw, problem, *fields), the fields NULL for a problem."""
        return (self.line_no, self.raw, self.problem, *(self.fields if self.fields is not None else (None,) * width))


class Batch(NamedTuple):
    """Records as landing takes them: rows of (line_no, raw, problem, *fields). A plain
    batch has no problems and leaves that column out (a NULL bound per record costs)."""
    rows: list[tuple]
    plain: bool = False


def batches(records: Iterable[Record], width: int, size: int = 10_000) -> Iterator[Batch]:
    """Records as rows for landing, a batch at a time."""
    rows = []
    for record in records:
        rows.append(record.row(width))
        if len(rows) == size:
            yield Batch(rows)
            rows = []
    if rows:
        yield Batch(rows)


class _LineFeed:
    """Hands csv.reader one decoded line at a time and remembers what it took,
    so each record's raw text (several lines for a quoted newline) is known."""

    def __init__(self, binary_lines):
        self._file = binary_lines
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

    def read_first(self, lines: list[bytes]) -> None:
        """Read these lines (taken from the file already), then go on with the file."""
        self._lines = chain(lines, self._file)


def read_csv(binary_file, source: str) -> tuple[list[str], Iterator[Batch]]:
    """The normalised header and a lazy stream of the records after it, in batches."""
    feed = _LineFeed(iter(binary_file))
    reader = csv.reader(feed, strict=True)
    header_record = _next_record(reader, feed)
    if header_record is None:
        raise Refused(f"{source} is empty: expected a header row naming the columns")
    if header_record.problem:
        raise Refused(f"{source}: the header row (line {header_record.line_no}) {header_record.problem}")
    header = [name.strip().lower() for name in header_record.fields]
    check_header(header, source)
    return header, _batches(binary_file, reader, feed, len(header))


# A quarter of a MiB of input at a time: big enough that csv.reader and
# executemany do the work in C, small enough that its Python objects (about 30
# times its bytes) stay small: at 1 MiB a PostgreSQL run peaked 27 MiB higher.
CHUNK_BYTES = 1 << 18


def _batches(binary_file, reader, feed: _LineFeed, width: int) -> Iterator[Batch]:
    """Rows for landing, a chunk of lines at a time.

    Most chunks are simple: valid UTF-8, no NUL, one line per record. They are
    read in one pass, one csv.reader call and no Python code per record (which
    is most of what reading a million records costs). Any other chunk is read
    record by record, exactly as before; both ways give the same rows
    (tests/test_csv_reading.py)."""
    while lines := binary_file.readlines(CHUNK_BYTES):
        first, last = feed.line_no + 1, feed.line_no + len(lines)
        batch = _one_pass_batch(lines, first, width)
        if batch is not None:
            feed.line_no = last
        else:
            feed.read_first(lines)
            batch = Batch([])
            # a record that starts in this chunk may end after it (a quoted newline)
            while feed.line_no < last:
                record = _next_record(reader, feed)
                if record is None:
                    break
                batch.rows.append(_checked(record, width).row(width))
        if batch.rows:
            yield batch


def _one_pass_batch(lines: list[bytes], first_line_no: int, width: int) -> Batch | None:
    """The chunk's rows read in one pass, or None if it must be read record by record
    (see _batches). The batch is plain unless a record has the wrong number of fields."""
    if width < 2 or b"\x00" in b"".join(lines):
        return None  # (with one column a blank line would parse as a record)
    try:
        text = list(map(bytes.decode, lines))
        fields = list(csv.reader(text, strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    if len(fields) != len(text):
        return None  # some record spans lines
    raws = list(map(str.rstrip, text, repeat("\r\n")))
    if min(map(len, fields)) == max(map(len, fields)) == width:
        return Batch(list(map(add, zip(count(first_line_no), raws), map(tuple, fields))), plain=True)
    # the rare record with the wrong number of fields, and blank lines (not records)
    rows = list(map(add, zip(count(first_line_no), raws, repeat(None)), map(tuple, fields)))
    for i, record in enumerate(fields):
        if len(record) != width:
            rows[i] = None if not raws[i].strip() else \
                Record(first_line_no + i, raws[i], _wrong_width(record, width), None).row(width)
    return Batch([row for row in rows if row is not None])


def _checked(record: Record, width: int) -> Record:
    if record.problem is None and len(record.fields) != width:
        record.problem = _wrong_width(record.fields, width)
    if record.problem is not None:
        record.fields = None
    return record


def _wrong_width(fields: list[str], width: int) -> str:
    return f"has {len(fields)} fields, the header has {width}"


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
