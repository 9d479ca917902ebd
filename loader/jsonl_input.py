"""Streams JSON Lines: one object per line, its keys the columns.

The first object's keys are the header. A later object without one of them
lands NULL there (validation then says what is missing); an object with a key
the first one lacks is rejected rather than silently losing that field, and so
is one with two keys for one column (a repeated key, or keys that differ only in
case), a lone surrogate escape, a NUL, or nesting deeper than MAX_DEPTH. In the
first object any of these refuses the batch, as a bad CSV header does.
Numbers keep their exact text (no float rounding on the way in).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Iterator

from .csv_input import Batch, Record, batches, check_header
from .errors import Refused


# json recurses once per level of nesting: deeper than this, a line is rejected
# before it is parsed (rather than failing the batch with a RecursionError).
MAX_DEPTH = 100
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_object(raw: str, header: list[str] | None) -> tuple[dict | None, str | None]:
    if raw.count("[") + raw.count("{") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        return None, f"is nested deeper than {MAX_DEPTH}"
    objects = []  # every object's (key, value) pairs as written, the record's own last

    def as_dict(pairs):
        objects.append(pairs)
        return dict(pairs)

    try:
        value = json.loads(raw, parse_float=str, parse_int=str, object_pairs_hook=as_dict)
    except ValueError as exc:
        return None, f"is not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, "is not a JSON object"
    keys = [key for key, _ in objects[-1]]
    value = {key.strip().lower(): as_text(v) for key, v in value.items()}
    if "\\u" in raw:  # only an escape makes a NUL or a lone surrogate: the line's text has neither
        texts = [*keys, *(v for v in value.values() if v is not None)]
        if any("\x00" in text for text in texts):
            return None, "contains a NUL byte (\\u0000)"  # as a NUL byte in the file is
        if any(_SURROGATE.search(text) for text in texts):
            # (it cannot be stored as UTF-8; checked before any reason quotes a key)
            return None, "contains a lone surrogate (an unpaired \\ud800-\\udfff escape)"
    if len(value) < len(keys):  # two keys name one column: the last would silently win
        return None, _clash(*_same_name(keys, lambda key: key.strip().lower()))
    for pairs in objects[:-1]:  # in a nested object a repeated key would be lost as silently
        twice = len(pairs) > 1 and _same_name([key for key, _ in pairs], lambda key: key)
        if twice:
            return None, f"has the key {twice[1]} twice"
    if header is not None:
        extra = [key for key in value if key not in header]
        if extra:
            return None, f"has a field the first record has not: {', '.join(extra)}"
    return value, None


def _depth(raw: str) -> int:
    """How deep the line's arrays and objects nest (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", raw))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _same_name(keys: list[str], name) -> tuple[str, str] | None:
    """(an earlier key, the key) for the first key whose name (as name() makes it) repeats."""
    seen: dict[str, str] = {}
    for key in keys:
        if name(key) in seen:
            return seen[name(key)], key
        seen[name(key)] = key
    return None


def _clash(first: str, key: str) -> str:
    if first == key:
        return f"has the key {key} twice"
    if first.strip() == key.strip():
        return f'has keys that differ only in surrounding spaces: "{first}", "{key}"'
    return f"has keys that differ only in case: {first}, {key}"


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
