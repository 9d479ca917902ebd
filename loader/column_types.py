"""What each column of a file holds, read from every row (for --new-feed).

A column is an integer, a decimal or a timestamp only if every non-empty value has that
form; anything else is text. Values with leading zeros (order numbers, zip codes) or more
than 15 digits stay text: a number would lose what makes them what they are. The rows are
streamed, so a file of any size is read in constant memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import typed_values

INTEGER = re.compile(r"[+-]?(0|[1-9][0-9]*)")
WHOLE = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(0|[1-9][0-9]*)?\.[0-9]*")  # (with a '.': else it is an integer)
MAX_DIGITS = 15  # what a 64-bit float keeps exactly (SQLite stores a decimal as one)
# The forms a timestamp column is tried in, after ISO-8601 (which the loader reads itself):
# the first that reads every value wins (%m/%d before %d/%m: both may read every value).
PATTERNS = ("%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
            "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%Y/%m/%d",
            "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%Y%m%d",
            "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z",
            "%b %d %Y", "%b %d, %Y", "%d %b %Y", "%d-%b-%Y", "%d-%b-%y", "%B %d, %Y", "%B %d %Y",
            "%d %B %Y", "%Y-%m", "%Y")
TRIED_AT_ONCE = 3  # forms kept for a column once a value has narrowed them down


@dataclass
class Column:
    name: str
    filled: int = 0                 # non-empty values
    integer: bool = True            # every non-empty value so far is a plain integer
    whole: bool = True              # ... digits after an optional sign, leading zeros or not
    decimal: bool = True            # ... a plain decimal (or integer)
    forms: list[str] | None = None  # ["iso8601"] while every value so far is one
    first: str | None = None        # the first non-empty value (for the definition's comment)

    @property
    def type(self) -> str:
        if not self.filled:
            return "text"
        if self.integer:
            return "integer"
        if self.decimal:
            return "decimal"
        if self.forms:
            return "timestamp"
        return "text"

    def add(self, value: str) -> None:
        value = value.strip(" ")  # (spaces only, as SQL's trim() and the typing helpers)
        if not value:
            return
        self.filled += 1
        if self.first is None:
            self.first = value
            # (a column other than the feed's timestamp is a timestamp only in ISO-8601: in any
            # other form it is kept as written)
            self.forms = ["iso8601"]
        self.whole = self.whole and WHOLE.fullmatch(value) is not None
        if self.integer or self.decimal:
            digits = sum(c.isdigit() for c in value)
            is_integer = INTEGER.fullmatch(value) is not None
            self.decimal = self.decimal and (is_integer or DECIMAL.fullmatch(value) is not None) \
                and value.strip("+-.") != "" and digits <= MAX_DIGITS
            self.integer = self.integer and is_integer and digits <= MAX_DIGITS
        if self.forms:
            self.forms = [f for f in self.forms if typed_values.read_timestamp(value, f) is not None]


@dataclass
class Timestamp:
    """What --timestamp names: the values read (and how), and which could not be."""
    columns: list[str]
    filled: int = 0
    empty: int = 0
    first_empty_line: int | None = None
    epoch: bool = True              # every value so far is whole seconds since 1970
    forms: list[str] | None = None
    unreadable: list[str] = field(default_factory=list)   # the first three, as written
    unreadable_count: int = 0
    mixed: bool = False             # an unreadable value some other form reads: forms mixed

    @property
    def form(self) -> str | None:
        """iso8601, unix_seconds or a pattern; None when some value is unreadable."""
        if self.unreadable_count or not self.filled:
            return None
        if len(self.columns) > 1:
            return self.forms[0]
        # a column of years is a year's first instant, and 20240305 a date, not seconds after 1970
        if self.forms and self.forms[0] in ("%Y", "%Y%m%d"):
            return self.forms[0]
        if self.epoch:
            return "unix_seconds"
        return self.forms[0] if self.forms else None

    @property
    def alternatives(self) -> list[str]:
        """Other patterns that read every value too (%d/%m/%Y beside %m/%d/%Y), where the
        form is a pattern: what ISO-8601 reads, a pattern with an offset reads the same."""
        if self.form in (None, "iso8601", "unix_seconds"):
            return []
        return [f for f in (self.forms or [])[1:] if f != self.form]

    def add(self, value: str | None, line_no: int) -> None:
        if value is None or not value.strip(" "):
            self.empty += 1
            self.first_empty_line = self.first_empty_line or line_no
            return
        value = value.strip(" ")
        self.filled += 1
        if self.forms is None:
            self.forms = _first_forms(value, len(self.columns))
        self.epoch = self.epoch and value.isdigit() and len(value) <= 11 and len(self.columns) == 1
        kept = [f for f in self.forms if typed_values.read_timestamp(value, f) is not None]
        if kept or self.epoch:
            self.forms = kept[:TRIED_AT_ONCE] if len(kept) > TRIED_AT_ONCE and self.filled > 1 else kept
            return
        self.unreadable_count += 1
        if len(self.unreadable) < 3:
            self.unreadable.append(value)
            self.mixed = self.mixed or (len(self.columns) == 1 and any(
                typed_values.read_timestamp(value, f) is not None for f in ("iso8601", *PATTERNS)))


def _first_forms(value: str, parts: int) -> list[str]:
    if parts > 1:  # year, month[, day]: joined with '-' (timestamp_value)
        return ["%Y-%m-%d" if parts == 3 else "%Y-%m"]
    if value.isdigit():
        return ["%Y"] if len(value) == 4 else ["%Y%m%d"] if len(value) == 8 else []
    return ["iso8601", *PATTERNS]


def joined(values: list[str | None]) -> str | None:
    """year, month[, day] as the text the definition reads them in: '2009-5'; None when one is empty."""
    if any(v is None or not v.strip(" ") for v in values):
        return None
    return "-".join(v.strip(" ") for v in values)


@dataclass
class Profile:
    """A file's columns as read, and what the key and the timestamp hold."""
    header: list[str]
    columns: dict[str, Column]
    records: int
    empty_keys: int
    first_empty_key_line: int | None
    timestamp: Timestamp
    unreadable_records: int         # records that would be rejected whole (wrong field count, bad bytes)


def profile(header: list[str], batches, key: list[str], timestamp: list[str]) -> Profile:
    """Every row of batches (as inputs.Inputs gives them) read once."""
    columns = [Column(name) for name in header]
    key_at = [header.index(name) for name in key]
    ts_at = [header.index(name) for name in timestamp]
    ts = Timestamp(timestamp)
    records = empty_keys = unreadable = 0
    first_empty_key = None
    for batch in batches:
        skip = 2 if batch.plain else 3  # (line_no, raw[, problem], *fields)
        for row in batch.rows:
            records += 1
            fields = row[skip:]
            if not batch.plain and row[2] is not None:
                unreadable += 1
                continue
            for column, value in zip(columns, fields):
                if value is not None:
                    column.add(value)
            if any(fields[i] is None or not fields[i].strip(" ") for i in key_at):
                empty_keys += 1
                first_empty_key = first_empty_key or row[0]
            ts.add(fields[ts_at[0]] if len(ts_at) == 1 else joined([fields[i] for i in ts_at]), row[0])
    return Profile(header, {c.name: c for c in columns}, records, empty_keys, first_empty_key, ts, unreadable)
