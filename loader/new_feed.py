"""--new-feed NAME FILE --key COL[,COL...] --timestamp COL: a feed definition written from a file.

Reads FILE whole (streamed), decides each column's type, and writes <sql-dir>/feeds/NAME.sql
by exclusive create: never over a definition, never through a link. It opens no database.
stdout: the definition (--dry-run) or a JSON account of what was written; stderr: the path
and the command that loads FILE. Exit 0 when written, 2 when refused.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from . import column_types, feed as feeds, feed_template, safe_write
from .errors import Refused
from .inputs import STDIN, Inputs
from .invocation import DEFAULT_SQL_DIR, Invocation

NAME = re.compile(r"[a-z_][a-z0-9_]*")
MAX_NAME = 63  # PostgreSQL's longest identifier
# the tables the runner makes itself, beside those its SQL files create
RUNNER_TABLES = {"landing", "landing_columns", "feed_input_columns", "landing_file", "feed_records",
                 "stored_versions", "sqlite_sequence"}
CREATES = re.compile(r"\bcreate\s+(?:temp\w*\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)",
                     re.IGNORECASE)


def main(args, invocation: Invocation) -> None:
    name, file = args.new_feed
    sql_dir = Path(invocation.sql_dir)
    path = sql_dir / "feeds" / f"{name}.sql"
    _check_name(name, sql_dir, path)
    key, timestamp = _columns("--key", args.key), _columns("--timestamp", args.timestamp)
    if file == STDIN:
        raise Refused("--new-feed reads a file, not standard input (it is read whole before anything is "
                      "written): save the records to a file first")
    inputs = Inputs.open([file], args.format)
    header = inputs.header
    bad = [c for c in header if "," in c or '"' in c]
    if bad:
        raise Refused(f"{file}: the column name{'s' if len(bad) > 1 else ''} "
                      f"{', '.join(repr(c) for c in bad)} hold{'' if len(bad) > 1 else 's'} a comma or a double "
                      "quote, which a definition's list of input columns cannot name: rename the column in "
                      "the file's header")
    system = [c for c in header if c in feed_template.SYSTEM_COLUMNS]
    if system:
        raise Refused(f"{file}: PostgreSQL keeps its own {', '.join(system)} in every table (system columns), so no "
                      "table may have a column of that name, quoted or not: rename it in the file's header "
                      f"(e.g. {system[0]}_value)")
    missing = [c for c in [*key, *timestamp] if c not in header]
    if missing:
        raise Refused(f"{file} has no column {', '.join(repr(c) for c in missing)}: its columns are "
                      f"{', '.join(header)}")
    if len(timestamp) == 1 and timestamp[0] in key:
        raise Refused(f"--timestamp {timestamp[0]} is also in --key: the timestamp is a key's version (a newer one "
                      "replaces an older), so it cannot be part of what identifies the key")
    if len(timestamp) > 3:
        raise Refused("--timestamp takes one column, or the integer columns year,month[,day]")
    (_, batches), = inputs.files
    profile = column_types.profile(header, batches, key, timestamp)
    _check_profile(profile, file, key, timestamp)
    shape = feed_template.Shape.of(name, profile, key, timestamp)
    load_command = replace(invocation, feed=name).command(
        [str(Path(file).resolve()), *(["--format", args.format] if args.format else [])])
    sql_dir_option = ["--sql-dir", str(sql_dir)] if sql_dir.resolve() != DEFAULT_SQL_DIR else []
    command = shlex.join(["python", "runner.py", "--new-feed", name, file, "--key", ",".join(key),
                          "--timestamp", ",".join(timestamp), *sql_dir_option,
                          *(["--format", args.format] if args.format else [])])
    text = feed_template.definition(shape, profile, command, Path(file).name, load_command)
    if args.dry_run:
        print(text, end="")
        invocation.say(f"--dry-run: nothing was written; without it, the definition is written to {path}")
        return
    try:
        safe_write.create_text(str(path), text)
    except FileExistsError:
        raise Refused(f"{path} exists: --new-feed never replaces a definition (choose another NAME, or "
                      "remove the file first)") from None
    except OSError as exc:
        raise Refused(f"cannot write {path}: {exc.strerror}") from None
    invocation.say(f"wrote {path.resolve()} ({len(header)} columns, from {_records(profile.records)} of {file}); "
                   f"load the file with:\n  {load_command}")
    if profile.unreadable_records:
        invocation.say(f"note: {_records(profile.unreadable_records)} of {file} could not be read (the wrong "
                       "number of fields, or bytes that are not UTF-8): the types come from the others, and a "
                       "load rejects them, each with its reason")
    summary = {"feed": name, "definition": str(path.resolve()), "records_read": profile.records,
               "records_unreadable": profile.unreadable_records,
               "key_columns": key, "timestamp_column": shape.ts_column, "timestamp_form": shape.ts_form,
               "columns": {c: "timestamp" if [c] == timestamp else profile.columns[c].type for c in header},
               "load_command": load_command}
    print(json.dumps(summary, indent=2))
    sys.stdout.flush()


def _records(n: int) -> str:
    return f"{n:,} record{'' if n == 1 else 's'}"


def _columns(option: str, text: str | None) -> list[str]:
    names = [n.strip().lower() for n in (text or "").split(",")]
    if not text or not all(names):
        raise Refused(f"--new-feed needs {option} COLUMN[,COLUMN...]: the file's column"
                      + (" or columns that identify a record" if option == "--key" else
                         " that holds each record's version (or year,month[,day])"))
    if len(set(names)) != len(names):
        raise Refused(f"{option} names a column twice: {text}")
    return names


def _check_name(name: str, sql_dir: Path, path: Path) -> None:
    """NAME is the feed's and its target table's: a plain name, no keyword, no table the loader
    or another feed owns, no definition that exists."""
    if not NAME.fullmatch(name) or len(name) > MAX_NAME or name in feed_template.KEYWORDS \
            or name.startswith(("sqlite_", "pg_")):
        raise Refused(f"--new-feed {name!r}: NAME is the feed's and its table's name: lower-case letters, digits "
                      f"and '_', starting with a letter or '_', at most {MAX_NAME} characters, not an SQL "
                      "keyword, not starting with sqlite_ or pg_ (the engines' own) (e.g. stocks or tx_housing)")
    owned = _loader_tables(sql_dir)
    if name in owned:
        raise Refused(f"--new-feed {name}: {name} is one of the loader's own tables; choose another NAME")
    feeds_dir = sql_dir / "feeds"
    if not feeds_dir.is_dir():
        raise Refused(f"{sql_dir} has no feeds/ folder to write the definition in (check --sql-dir)")
    for other in sorted(feeds_dir.glob("*.sql")):
        if other.name.count(".") != 1 or other == path:
            continue
        target = _target_of(other)
        if target in (name, f"{name}_history") or name == f"{target}_history":
            raise Refused(f"--new-feed {name}: the feed defined in {other} loads the table {target}; choose "
                          "another NAME (a feed's table is its own)")
    why = safe_write.kind_refused(str(path))
    if why:
        raise Refused(f"{path} {why}; choose another NAME")
    if path.exists() or path.is_symlink():
        raise Refused(f"{path} exists: --new-feed never replaces a definition (choose another NAME, or "
                      "remove the file first)")


def _loader_tables(sql_dir: Path) -> set[str]:
    names = set(RUNNER_TABLES)
    for path in [*sql_dir.glob("*.sql"), *sql_dir.glob("run/*.sql"), *sql_dir.glob("upgrade/*.sql")]:
        try:
            names.update(m.lower() for m in CREATES.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return names


def _target_of(path: Path) -> str | None:
    try:
        return feeds.read(path, "sqlite").target
    except (Refused, OSError):
        return None  # (a definition that does not read is its own problem, reported when it loads)


def _check_profile(profile: column_types.Profile, file: str, key: list[str], timestamp: list[str]) -> None:
    if profile.records == 0:
        raise Refused(f"{file} has a header but no records: the types are read from the records")
    if profile.empty_keys:
        raise Refused(f"{file}: {profile.empty_keys:,} of {profile.records:,} records have an empty "
                      f"{' or '.join(key)} (the first on line {profile.first_empty_key_line}): every record "
                      "needs a key; fix the file, or choose --key columns that are always filled")
    ts = profile.timestamp
    named = ", ".join(timestamp)
    if ts.empty:
        raise Refused(f"{file}: {ts.empty:,} of {profile.records:,} records have an empty {named} (the first on "
                      f"line {ts.first_empty_line}): every record needs its version; fix the file, or choose "
                      "another --timestamp")
    if len(timestamp) > 1:
        not_whole = [c for c in timestamp if not profile.columns[c].whole]
        if not_whole:
            raise Refused(f"--timestamp {named}: several columns are read as year,month[,day], whole numbers; "
                          f"{', '.join(not_whole)} {'is' if len(not_whole) == 1 else 'are'} not "
                          f"(e.g. {profile.columns[not_whole[0]].first!r})")
    if ts.form is None:
        quoted = ", ".join(repr(v) for v in ts.unreadable) + (", ..." if ts.unreadable_count > len(ts.unreadable) else "")
        if len(timestamp) > 1:
            raise Refused(f"{file}: {ts.unreadable_count:,} {named} values are not a real date, written "
                          f"{'-'.join(timestamp)} ({quoted})")
        if ts.mixed:
            raise Refused(f"{file}: {ts.unreadable_count:,} {named} values are written in another form than the "
                          f"first ({quoted}): a column holds its timestamps in one form; make them one, or write "
                          "the records section's _ts_text by hand (docs/helpers.md)")
        raise Refused(f"{file}: {ts.unreadable_count:,} {named} values are not timestamps in a form the loader "
                      f"reads ({quoted}): ISO-8601 (2024-03-05T14:30:00, a date alone), seconds since 1970, or a "
                      "form such as 03/05/2024 or Mar 05 2024 (docs/helpers.md)")
