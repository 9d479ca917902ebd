"""Streams JSON Lines: one object per line, its keys the columns.

The first object's keys are the header. A later object without one of them
lands NULL there (validation then says what is missing); an object with a key
the first one lacks is rejected rather than silently losing that field.
Numbers keep their exact text (no float rounding on the way in).
"""

from __future__ import annotations

import json
from typing import Iterator

from .csv_input import Batch, Record, batches, check_header
from .errors import Refused


def parse_object(raw: str, header: list[str] | None) -> tuple[dict | None, str | None]:
    try:
        value = json.loads(raw, parse_float=str, parse_int=str)
    except ValueError as exc:
        return None, f"is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, "is not a JSON object"
    value = {key.strip().lower(): as_text(v) for key, v in value.items()}
    if any(v is not None and "\x00" in v for v in value.values()):
        return None, "contains a NUL byte (\\u0000)"  # as a NUL byte in the file is
    if header is not None:
        extra = [key for key in value if key not in header]
        if extra:
            return None, f"has a field the first record has not: {', '.join(extra)}"
    return value, None


def as_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)  # a nested object or list, as JSON text


def read_jsonl(binary_file, source: str) -> tuple[list[str], Iterator[Batch]]:
    lines = _lines(binary_file)
    first = next(lines, None)
    if first is None:
        raise Refused(f"{source} is empty: expected JSON objects, one per line")
    line_no, raw, problem = first
    obj, parse_problem = parse_object(raw, None) if problem is None else (None, problem)
    if obj is None:
        raise Refused(f"{source}: the first record (line {line_no}) {parse_problem}; "
                      "its keys name the columns")
    header = list(obj)
    if not header:
        raise Refused(f"{source}: the first record (line {line_no}) has no keys; its keys name the columns")
    check_header(header, source)

    def records() -> Iterator[Record]:
        yield Record(line_no, raw, None, [obj.get(k) for k in header])
        for number, text, problem in lines:
            value, problem = parse_object(text, header) if problem is None else (None, problem)
            yield Record(number, text, problem, None if value is None else [value.get(k) for k in header])

    return header, batches(records(), len(header))


def _lines(binary_file):
    """(line_no, text, problem) of each non-blank line."""
    for line_no, data in enumerate(binary_file, start=1):
        if line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield line_no, data.decode("utf-8", "backslashreplace").rstrip("\r\n"), \
                "is not valid UTF-8 (undecodable bytes shown as \\x..)"
            continue
        if not text.strip():
            continue
        if "\x00" in text:
            yield line_no, text.replace("\x00", "\\x00"), "contains a NUL byte"
            continue
        yield line_no, text, None
