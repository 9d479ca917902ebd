"""The typing helpers feed definitions call: typed_integer, typed_decimal and typed_timestamp.

SQLite: Python functions registered on every connection (register(), from sqlite_db.py).
PostgreSQL: SQL and PL/pgSQL functions of the same names, created by sql/run/functions.postgresql.sql.
The two give the same text for the same arguments, whatever the server's settings
(tests/test_typed_values.py holds them to one table); docs/helpers.md is their reference.

They run once or twice per record of a load: each takes the common case first, with regular
expressions compiled once (a pattern's, once per pattern).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

# -- typed_integer -------------------------------------------------------------

_SIGNED_INTEGER = re.compile(r"([+-]?)0*([0-9]+)")


def typed_integer(value):
    """The canonical text of an integer of at most 18 significant digits (no '+', no leading
    zeros, '0' never signed), or NULL: for NULL, blanks and anything else."""
    if value is None:
        return None
    if value.__class__ is not str:
        value = _text(value)
    text = value.strip(" ")
    if text.isdigit() and text.isascii():  # the common case: digits alone
        if text[0] != "0":
            return text if len(text) <= 18 else None
        digits = text.lstrip("0")
        return (digits or "0") if len(digits) <= 18 else None
    match = _SIGNED_INTEGER.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 18:
        return None
    if digits[0] == "0":  # (all zeros: 0* left the last one)
        return "0"
    return "-" + digits if sign == "-" else digits


# -- typed_decimal -------------------------------------------------------------

_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def typed_decimal(value, max_digits=None):
    """The canonical text of a decimal number (no '+', no leading zeros in the integer part, '0'
    when it is empty, no trailing zeros in the fraction, no '.' without one, '0' never signed),
    or NULL: for NULL, blanks, anything else, and more than max_digits digits as written."""
    if value.__class__ is str and value.isascii():
        # the common case first, with no copy: digits with one '.', already canonical (12.5, 0.25)
        whole, dot, fraction = value.partition(".")
        if whole.isdigit() and (whole[0] != "0" or len(whole) == 1) \
                and (fraction.isdigit() and fraction[-1] != "0" if dot else True) \
                and (max_digits is None or max_digits.__class__ is int and len(whole) + len(fraction) <= max_digits):
            return value
    if value is None:
        return None
    if value.__class__ is not str:
        value = _text(value)
    if max_digits is not None and max_digits.__class__ is not int:
        max_digits = int(max_digits)
    text = value.strip(" ")
    if text.isdigit() and text.isascii():  # the common case: digits alone
        if max_digits is not None and len(text) > max_digits:
            return None
        return text if text[0] != "0" else (text.lstrip("0") or "0")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if not whole and not fraction:  # '', '.', '-', '+.'
        return None
    if max_digits is not None and len(whole) + len(fraction) > max_digits:
        return None
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    number = whole + "." + fraction if fraction else whole
    return "-" + number if sign == "-" and number != "0" else number


# -- typed_timestamp -----------------------------------------------------------

# what stage 03 reads as timestamp_format 'iso8601' (sql/03_parse_values*.sql): YYYY-MM-DD, then
# optionally [T ]HH:MM[:SS[.fff]] and then optionally Z (z, or ' Z') or +HH:MM/-HH:MM
_ISO8601 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
                      r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?"
                      r"(?: ?[Zz]|([+-])([0-9]{2}):([0-9]{2}))?)?")
_ISO8601_PLAIN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_EPOCH = datetime(1970, 1, 1)

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
_MONTH_NUMBER = {**{name: n for n, name in enumerate(MONTHS, 1)},
                 **{name[:3]: n for n, name in enumerate(MONTHS, 1)}}


def _any_case(word: str) -> str:
    """A regular expression of word in any case, ASCII only ([Jj][Aa][Nn]): the same on both
    engines (a case-insensitive flag would also fold other letters, the Kelvin sign to k, and
    PostgreSQL's applies to the whole expression)."""
    return "".join(f"[{c.upper()}{c}]" for c in word)


# The directives, in the order of the positions a compiled pattern keeps (PostgreSQL's
# typed_timestamp_form has the same table): each one's field and regular expression.
DIRECTIVES = {
    "Y": ("year", "([0-9]{4})"),
    "y": ("year", "([0-9]{2})"),
    "m": ("month", "([0-9]{1,2})"),
    "b": ("month", "(" + "|".join(_any_case(name[:3]) for name in MONTHS) + ")"),
    "B": ("month", "(" + "|".join(_any_case(name) for name in MONTHS) + ")"),
    "d": ("day", "([0-9]{1,2})"),
    "H": ("hour", "([0-9]{1,2})"),
    "I": ("hour", "([0-9]{1,2})"),
    "p": ("AM or PM", "([AaPp][Mm])"),
    "M": ("minute", "([0-9]{2})"),
    "S": ("second", "([0-9]{2})"),
    "z": ("offset", "(Z|[+-][0-9]{2}:?[0-9]{2})"),
}
_SPECIAL = set("[].^$*+?(){}|\\")  # escaped with a backslash; every other character is itself


class UnknownForm(ValueError):
    """A typed_timestamp form that is none of the forms: a mistake in the feed definition."""


# SQLite reports any exception raised inside a Python function as "user-defined function raised
# exception" (Python's sqlite3 module drops the exception; only sqlite3.enable_callback_tracebacks
# shows it, as a traceback on stderr): typed_timestamp keeps the message of the unknown form it
# raised here, for the loader's error to say what it was (last_error()).
_last_error: str | None = None


def last_error() -> str | None:
    """The message of the last unknown form typed_timestamp raised (as SQLite's function), and
    forget it: None when there is none."""
    global _last_error
    message, _last_error = _last_error, None
    return message


def _unknown(form, why: str = "") -> UnknownForm:
    shown = "NULL" if form is None else f"'{form}'"
    return UnknownForm(f"typed_timestamp: unknown form {shown}" + (f": {why}" if why else ""))


@lru_cache(maxsize=256)
def compile_pattern(form: str):
    """A pattern's regular expression (anchored by fullmatch; PostgreSQL's has ^ and $ around
    it) and the group of each directive (-1 where the pattern has none), in DIRECTIVES' order.
    Raises UnknownForm for an unknown directive, a field given twice, %I without %p or the
    other way round, or no year."""
    regex, positions, fields = [], dict.fromkeys(DIRECTIVES, -1), {}
    i, groups = 0, 0
    while i < len(form):
        c = form[i]
        if c != "%":
            regex.append("\\" + c if c in _SPECIAL else c)
            i += 1
            continue
        directive = form[i + 1:i + 2]
        i += 2
        if directive == "%":
            regex.append("%")
            continue
        if directive not in DIRECTIVES:
            raise _unknown(form, f"unknown directive %{directive}" if directive else "a % at its end")
        field, part = DIRECTIVES[directive]
        if field in fields:
            raise _unknown(form, f"the {field} is given twice (%{fields[field]} and %{directive})")
        fields[field] = directive
        positions[directive] = groups
        groups += 1
        regex.append(part)
    if (positions["I"] < 0) != (positions["p"] < 0):
        raise _unknown(form, "%I needs %p (AM or PM), and %p needs %I")
    if "year" not in fields:
        raise _unknown(form, "no year (%Y or %y)")
    return re.compile("".join(regex), re.ASCII), tuple(positions.values())


def typed_timestamp(value, form):
    """value as UTC text 'YYYY-MM-DDTHH:MM:SS', read by form ('iso8601', 'date', 'unix_seconds' or
    a pattern of % directives); value itself, as written, when it cannot be read (the loader's
    stage 03 then rejects it, quoting it); NULL for NULL. Raises UnknownForm for any other form."""
    global _last_error
    try:
        moment = read_timestamp(value, form)
    except UnknownForm as exc:
        _last_error = str(exc)
        raise
    return value if moment is None else moment


def read_timestamp(value, form):
    """What typed_timestamp reads: value as UTC text 'YYYY-MM-DDTHH:MM:SS', or None when it
    cannot be read by form (or is NULL). Raises UnknownForm for a form that is none of them."""
    if form == "iso8601":
        if value is None:
            return None
        text = (value if value.__class__ is str else _text(value)).strip(" ")
        if len(text) == 19 and _ISO8601_PLAIN.fullmatch(text):  # the common case: YYYY-MM-DD[T ]HH:MM:SS
            try:
                datetime.fromisoformat(text)  # (the calendar: 30 February, minute 60 and year 0 raise)
            except ValueError:
                return None
            if text[11:13] > "23":  # (hour 24: not every Python refuses it)
                return None
            return text if text[10] == "T" else text[:10] + "T" + text[11:]
        match = _ISO8601.fullmatch(text)
        if match is None:
            return None
        year, month, day, hour, minute, second, sign, off_hours, off_minutes = match.groups()
        try:
            moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
        except ValueError:  # 30 February, 24:00, year 0
            return None
        if sign is None:
            return moment.isoformat()
        if off_hours > "14" or off_minutes > "59":
            return None
        return _shifted(moment, int(off_hours) * 60 + int(off_minutes), sign)
    if form == "unix_seconds":
        if value is None:
            return None
        text = (value if value.__class__ is str else _text(value)).strip(" ")
        if len(text) <= 11 and text.isdigit() and text.isascii():  # (an empty text is not digits)
            return (_EPOCH + timedelta(0, int(text))).isoformat()
        return None
    if form == "date":
        if value is None:
            return None
        match = _DATE.fullmatch((value if value.__class__ is str else _text(value)).strip(" "))
        if match is None:
            return None
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            return None
    if form.__class__ is not str or "%" not in form:
        raise _unknown(form)
    regex, positions = compile_pattern(form)  # (before NULL: an unknown directive raises always)
    if value is None:
        return None
    match = regex.fullmatch((value if value.__class__ is str else _text(value)).strip(" "))
    if match is None:
        return None
    return _from_pattern(match.groups(), positions)


def _from_pattern(found: tuple, positions: tuple):
    at_Y, at_y, at_m, at_b, at_B, at_d, at_H, at_I, at_p, at_M, at_S, at_z = positions
    if at_Y >= 0:
        year = int(found[at_Y])
    else:
        year = int(found[at_y])
        year += 1900 if year >= 69 else 2000
    if at_m >= 0:
        month = int(found[at_m])
    elif at_b >= 0:
        month = _MONTH_NUMBER[found[at_b].lower()]
    elif at_B >= 0:
        month = _MONTH_NUMBER[found[at_B].lower()]
    else:
        month = 1
    day = int(found[at_d]) if at_d >= 0 else 1
    if at_H >= 0:
        hour = int(found[at_H])
    elif at_I >= 0:
        hour = int(found[at_I])
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if found[at_p][0] in "Pp" else 0)
    else:
        hour = 0
    minute = int(found[at_M]) if at_M >= 0 else 0
    second = int(found[at_S]) if at_S >= 0 else 0
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # 31 April, 29 February 2023, hour 24, minute 60, year 0
        return None
    if at_z < 0 or found[at_z] == "Z":
        return moment.isoformat()
    offset = found[at_z]
    off_hours, off_minutes = offset[1:3], offset[-2:]
    if off_hours > "23" or off_minutes > "59":
        return None
    return _shifted(moment, int(off_hours) * 60 + int(off_minutes), offset[0])


def _shifted(moment: datetime, minutes: int, sign: str):
    """moment, a local time at an offset of sign minutes from UTC, as UTC text; None when that
    is outside years 1 to 9999."""
    try:
        moment = moment - timedelta(minutes=minutes) if sign == "+" else moment + timedelta(minutes=minutes)
    except OverflowError:
        return None
    return moment.isoformat()


def _text(value) -> str:
    """A value SQLite hands over that is not text (a number, a blob) as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def typed_is_timestamp(value, form):
    """1 when form reads value, 0 when it cannot, NULL for NULL: the check typed_timestamp cannot
    be (what it gives back unread may look like a reading, e.g. 2024-02-30T00:00:00)."""
    read = read_timestamp(value, form)
    return None if value is None else int(read is not None)


def register(conn) -> None:
    """Register the helpers on a sqlite3 connection (PostgreSQL's are SQL functions)."""
    conn.create_function("typed_integer", 1, typed_integer, deterministic=True)
    conn.create_function("typed_decimal", 2, typed_decimal, deterministic=True)
    conn.create_function("typed_timestamp", 2, typed_timestamp, deterministic=True)
    conn.create_function("typed_is_timestamp", 2, typed_is_timestamp, deterministic=True)
