"""What a run reads: files (CSV or JSON Lines, plain or gzip), standard input,
or the open dead letters; and the edits of a --replay-dead-letters --from file. Headers,
and a --from file whole, are read before the database is touched."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import csv_input, jsonl_input
from .csv_input import Batch
from .errors import Refused

STDIN = "-"
JSONL_SUFFIXES = (".jsonl", ".ndjson")
# A line of --export-dead-letters' file, its keys in this order; a --from file's lines need
# all but the reason (there to read: the replay gives the new one)
DEAD_LETTER_FIELDS = ("dead_letter_id", "source", "line_no", "reason", "raw")
EDIT_FIELDS = ("dead_letter_id", "source", "line_no", "raw")
MAX_ID = 2 ** 63 - 1  # what either engine's bigint holds
MAX_PROBLEMS_SHOWN = 20


@dataclass
class Inputs:
    format: str                                  # csv | jsonl
    header: list[str]
    files: list[tuple[str, Iterator[Batch]]]    # (source, batches of rows for landing)
    # each file's content as read so far: its delivery, once the file is read (docs/feeds.md)
    digests: dict[str, "Digest"] = field(default_factory=dict)

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
        files, headers, digests = [], [], {}
        for source in sources:
            digests[source] = Digest(open_binary(source))
            header, records = reader(digests[source].reader, source)
            headers.append(header)
            files.append((source, records))
        if any(h != headers[0] for h in headers):
            raise Refused("the input files have different headers: " + "; ".join(
                f"{s}: {','.join(h)}" for (s, _), h in zip(files, headers)))
        return cls(file_format, headers[0], files, digests)

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


class Digest(io.RawIOBase):
    """The SHA-256 of a file's bytes, taken as they are read (after gzip decompression):
    plain and gzip of one content are one delivery. reader: the file, buffered as before."""

    def __init__(self, binary):
        self.binary = binary
        self.sha256 = hashlib.sha256()
        self.reader = io.BufferedReader(self, buffer_size=1 << 16)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # (readinto1: what one read gives, as a pipe delivers it; readinto would wait for a
        # whole buffer, and a header on standard input would not be read until 64 KiB came)
        n = self.binary.readinto1(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
        return n

    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


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


@dataclass(frozen=True)
class Edit:
    """One line of a --from file: the dead letter it names, where it says its record came from
    (as exported: checked against dead_letter), and its raw text, edited."""
    place: int           # the line of the file
    dead_letter_id: int
    source: str
    line_no: int
    raw: str


def read_edits(path: str) -> list[Edit]:
    """The lines of a --from file, each a JSON object as --export-dead-letters writes them;
    blank lines are skipped. Refused, naming every line that is not one (or that names a dead
    letter an earlier line names), before the database is opened."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Refused(f"cannot read --from {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Refused(refusal_text(f"--from {path}", [(line, "is not valid UTF-8 (the export writes UTF-8: "
                                                               "save the file as UTF-8)")])) from None
    edits: list[Edit] = []
    problems: list[tuple[int, str]] = []
    first_place: dict[int, int] = {}
    # (lines end at \n alone: the text of a record may hold U+2028 or \x85, which a JSON
    # string keeps as they are and str.splitlines would take for line ends)
    for place, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        edit, problem = _edit(place, line)
        if edit is not None and edit.dead_letter_id in first_place:
            problem = (f"names dead letter {edit.dead_letter_id} again (line {first_place[edit.dead_letter_id]} "
                       "names it first): keep one line for it")
        if problem:
            problems.append((place, problem))
        else:
            first_place[edit.dead_letter_id] = place
            edits.append(edit)
    if problems:
        raise Refused(refusal_text(f"--from {path}", problems))
    return edits


def _edit(place: int, line: str) -> tuple[Edit | None, str | None]:
    try:
        obj = json.loads(line, object_pairs_hook=_no_key_twice)
    except _KeyTwice as exc:
        return None, f"has the key {exc.args[0]} twice"
    except ValueError as exc:
        return None, f"is not a JSON object ({getattr(exc, 'msg', exc)} at column {getattr(exc, 'colno', '?')})"
    if not isinstance(obj, dict):
        return None, "is not a JSON object (one a line, as --export-dead-letters writes them)"
    missing = [k for k in EDIT_FIELDS if k not in obj]
    if missing:
        return None, f"has no {', '.join(missing)} (each line needs {', '.join(EDIT_FIELDS)}, as exported)"
    for key, low in (("dead_letter_id", 1), ("line_no", 0)):
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_ID:
            return None, f"{key} is not a whole number from {low}: {json.dumps(value)[:40]} (leave it as exported)"
    for key in ("source", "raw"):
        value = obj[key]
        if not isinstance(value, str):
            what = "the record's text (e.g. its CSV line), a JSON string" if key == "raw" else "a JSON string"
            return None, f"{key} is not a string but {json.dumps(value)[:40]}: it is {what}"
        if "\x00" in value:
            return None, f"{key} contains a NUL character (\\u0000), which the database cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None, f"{key} contains a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    return Edit(place, obj["dead_letter_id"], obj["source"], obj["line_no"], obj["raw"]), None


class _KeyTwice(ValueError):
    pass


def _no_key_twice(pairs: list[tuple]) -> dict:
    keys = [k for k, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _KeyTwice(key)
    return dict(pairs)


def refusal_text(what: str, problems: list[tuple[int, str]]) -> str:
    """A refusal that names each problem's line: what (e.g. "--from edits.jsonl"), then one
    line per problem, the first MAX_PROBLEMS_SHOWN of them."""
    shown = [f"  line {place}: {problem}" for place, problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return f"{what} cannot be replayed, nothing was changed:\n" + "\n".join(shown)
