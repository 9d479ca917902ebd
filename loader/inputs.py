"""What a run reads: files (CSV or JSON Lines, plain or gzip), standard input,
or the open dead letters. Headers are read before the database is touched."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import csv_input, jsonl_input
from .csv_input import Batch, Record
from .errors import Refused

STDIN = "-"
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass
class Inputs:
    format: str                                  # csv | jsonl
    header: list[str]
    files: list[tuple[str, Iterator[Batch]]]    # (source, batches of rows for landing)

    @property
    def source(self) -> str:
        return ", ".join(source for source, _ in self.files)

    @classmethod
    def open(cls, paths: list[str], fmt: str | None) -> "Inputs":
        # a file is known by its absolute path, however it was spelled, so a
        # rerun from another directory recognises its dead letters
        sources = [p if p == STDIN else str(Path(p).resolve()) for p in paths]
        twice = sorted({s for s in sources if sources.count(s) > 1})
        if twice:
            raise Refused(f"the same input is given more than once: {', '.join(twice)}")
        formats = {fmt or format_of(s) for s in sources}
        if len(formats) > 1:
            raise Refused("the inputs mix CSV and JSON Lines: load them in separate runs (or pass --format)")
        file_format = formats.pop()
        reader = jsonl_input.read_jsonl if file_format == "jsonl" else csv_input.read_csv
        files, headers = [], []
        for source in sources:
            header, records = reader(open_binary(source), source)
            headers.append(header)
            files.append((source, records))
        if any(h != headers[0] for h in headers):
            raise Refused("the input files have different headers: " + "; ".join(
                f"{s}: {','.join(h)}" for (s, _), h in zip(files, headers)))
        return cls(file_format, headers[0], files)

    @classmethod
    def from_dead_letters(cls, rows: list[tuple]) -> "Inputs":
        """The open dead letters (source, line_no, raw, header, format, problem), parsed again."""
        header: list[str] = []
        for row in rows:
            header += [name for name in (row[3] or "").split(",") if name and name not in header]
        records = []
        for source, line_no, raw, own_header, file_format, problem in rows:
            own = (own_header or "").split(",")
            fields = None
            if problem is None:
                if file_format == "jsonl":
                    obj, problem = jsonl_input.parse_object(raw, own)
                    values = obj and [obj.get(k) for k in own]
                else:
                    values, problem = csv_input.parse_record(raw, own)
                if values is not None:
                    by_name = dict(zip(own, values))
                    fields = [by_name.get(name) for name in header]
            records.append((source, Record(line_no, raw, problem, fields).row(len(header))))
        # landing takes one stream per source; a replay keeps each record's own file and line
        return cls("replay", header, [(source, iter([Batch([row])])) for source, row in records])


def format_of(source: str) -> str:
    name = source[:-3] if source.endswith(".gz") else source
    return "jsonl" if name.endswith(JSONL_SUFFIXES) else "csv"


def open_binary(source: str):
    if source == STDIN:
        return sys.stdin.buffer
    try:
        if source.endswith(".gz"):
            handle = gzip.open(source, "rb")
            handle.peek(1)  # a file that is not gzip fails here, not halfway through
            return handle
        return open(source, "rb")
    except (OSError, EOFError) as exc:
        raise Refused(f"cannot read input {source}: {getattr(exc, 'strerror', None) or exc}") from None
