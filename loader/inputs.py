"""What a run reads: files (CSV or JSON Lines, plain or gzip), standard input,
or the open dead letters. Headers are read before the database is touched."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import csv_input, jsonl_input
from .csv_input import Batch
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
        return ", ".join(source or "dead_letter" for source, _ in self.files)

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
    def from_dead_letters(cls, headers: list[str | None], chunks: Iterator[list[tuple]]) -> "Inputs":
        """The open dead letters, parsed again as they are read, a chunk at a time: chunks of
        (source, line_no, raw, header, format, problem); headers, those of the runs that
        rejected them, whose columns together are the replay's. Each row keeps its own file
        and line (landing takes a source per row: files' source is None)."""
        header: list[str] = []
        for own in headers:
            header += [name for name in (own or "").split(",") if name and name not in header]

        # where each of the replay's columns is in a run's own header (None: not there)
        places = {own: [names.index(n) if n in names else None for n in header]
                  for own, names in ((own, (own or "").split(",")) for own in headers)}
        nothing = (None,) * len(header)

        def batches() -> Iterator[Batch]:
            for chunk in chunks:
                rows = []
                for source, line_no, raw, own_header, file_format, problem in chunk:
                    own = (own_header or "").split(",")
                    values = None
                    if problem is None:
                        if file_format == "jsonl":
                            obj, problem = jsonl_input.parse_object(raw, own)
                            values = [obj.get(k) for k in own] if obj is not None else None
                        elif '"' not in raw and "\n" not in raw and "\r" not in raw:
                            values = raw.split(",")  # a line without quotes: its CSV fields, quickly
                            if len(values) != len(own):
                                values, problem = csv_input.parse_record(raw, own)  # (its message)
                        else:
                            values, problem = csv_input.parse_record(raw, own)
                    if values is None:
                        rows.append((source, line_no, raw, problem, *nothing))
                    elif own_header == header_text:
                        rows.append((source, line_no, raw, None, *values))
                    else:
                        rows.append((source, line_no, raw, None,
                                     *(values[i] if i is not None else None for i in places[own_header])))
                yield Batch(rows)
        header_text = ",".join(header)
        return cls("replay", header, [(None, batches())])


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
