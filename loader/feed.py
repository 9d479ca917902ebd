"""Reads a feed definition: one SQL file that says everything about one feed's records.

A definition is split into sections by marker lines (`-- section: NAME`), each run at
its own place in a run (docs/feeds.md). Its `declare` section is one select
of constants, read here before the database is opened: the feed's name, its target,
its key and timestamp columns and the input columns it reads. The runner binds them to
every statement, so the numbered stages stay generic.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import Refused
from .sql_files import Statement, read_sql, split_text

DEFAULT_FEED = "events"
SECTION_MARKER = re.compile(r"^--\s*section:\s*(\S+)\s*$")
# what each section holds, in the order a definition lists them
SECTIONS = {
    "declare": "one select naming the feed, its target, key, timestamp and input columns",
    "target": "the target table (create table if not exists ...)",
    "records": "the view feed_records (landing -> key, timestamp, typed values)",
    "versions": "the view stored_versions (each record of run_batch whose key the target holds, and its "
                "stored timestamp)",
    "upsert": "the guarded upsert of run_batch's loaded records into the target",
    "delete": "removes (deletes = 'hard') or marks (deletes = 'soft') the rows of run_batch's deleted records",
    "history": "ranks the values of the versions received and writes <target>_history's windows (history = 'on')",
    "trace": "select the target's current row for :key (for --trace)",
}
# Sections only some feeds have: the delete section, for a feed that declares deletes; the
# history section, for one that keeps a version history.
OPTIONAL_SECTIONS = ("delete", "history")
DECLARED = ("feed", "target", "key_columns", "timestamp_column", "timestamp_format", "input_columns")
# What a declaration may leave out, and what it then means: every definition written before
# these existed loads unchanged. The values each may take (the first is the default).
DECLARED_CHOICES = {"deletes": ("none", "hard", "soft"),
                    "corrections": ("report", "apply"),
                    "history": ("off", "on")}
TIMESTAMP_FORMATS = ("iso8601", "unix_seconds")
GIVES_DELETE = re.compile(r"\b_delete\b", re.IGNORECASE)
GIVES_SAME = re.compile(r"\b_same\b", re.IGNORECASE)
FEED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TABLE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)?$")
# SQLite's WITHOUT ROWID after a create table's closing parenthesis: the one word of a
# definition the runner rewrites, dropped on PostgreSQL (docs/postgresql.md)
_WITHOUT_ROWID = re.compile(r"\)\s*without\s+rowid\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*create\s+(temp\w*\s+)?table\b", re.IGNORECASE)


@dataclass(frozen=True)
class Feed:
    path: Path                     # the definition (its engine twin, if any, lies beside it)
    name: str
    target: str
    key_columns: list[str]
    timestamp_column: str
    timestamp_format: str
    input_columns: list[str]
    sections: dict[str, list[Statement]]
    versions_in_records: bool = False  # written for schema version 2: stored_versions in its records section
    deletes: str = "none"          # none | hard (the row is removed) | soft (the row is marked)
    deleted_column: str | None = None  # soft: the target's column that marks a deleted row
    corrections: str = "report"    # report | apply (the later delivery wins at an equal version)
    compares_values: bool = False  # its versions section gives _same and the stored row's provenance
    history: str = "off"           # off | on (every version kept in <target>_history)

    @property
    def params(self) -> dict:
        """What every statement gets bound (the generic stages' view of this feed)."""
        return {"feed": self.name, "target": self.target, "key_columns": ", ".join(self.key_columns),
                "timestamp_column": self.timestamp_column, "timestamp_format": self.timestamp_format,
                "feed_definition": str(self.path), "deletes": self.deletes, "corrections": self.corrections,
                "history": self.history}

    @property
    def history_table(self) -> str:
        """Where a feed with history = 'on' keeps its versions: <target>_history."""
        return f"{self.target}_history"


def is_path(option: str) -> bool:
    """--feed PATH (a path separator or a .sql suffix) rather than --feed NAME."""
    return "/" in option or "\\" in option or option.endswith(".sql")


def find(option: str | None, sql_dir: Path) -> Path:
    """The definition --feed names: sql_dir/feeds/NAME.sql, or a path to one anywhere."""
    feeds = sql_dir / "feeds"
    by_path = option is not None and is_path(option)
    # without feeds/, only a definition given by path can do, and not with a copy of the old stages
    if not feeds.is_dir() and (not by_path or (sql_dir / "09_upsert_events.sql").exists()):
        raise Refused(f"{sql_dir} has no feeds/ folder. If it is a copy of sql/ made before feeds existed: "
                      "the columns, key, target table and upsert that stages 01-09 used to name now live "
                      "in one feed definition (sql/feeds/events.sql), and the numbered stages are "
                      "generic. Copy the new sql/ and move your edits into a feed definition "
                      "(docs/feeds.md)")
    if by_path:
        path = Path(option).resolve()
        _refuse_if_not_a_file(option, path)
        if not path.is_file():
            raise Refused(f"--feed {option}: no such file (a feed definition, e.g. sql/feeds/events.sql)")
        return path
    name = option or DEFAULT_FEED
    path = feeds / f"{name}.sql"
    _refuse_if_not_a_file(name, path)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in feeds.glob("*.sql") if p.name.count(".") == 1)) or "none"
        raise Refused(f"--feed {name}: there is no {path} (feeds in {feeds}: {known}); "
                      "--feed also takes a path to a definition anywhere")
    return path


def _refuse_if_not_a_file(option: str, path: Path) -> None:
    """--feed naming a directory, a device, a FIFO or a socket is told so (not "no such file")."""
    try:
        if not path.exists() or path.is_file():
            return
        what = "a directory" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
    except OSError as exc:
        raise Refused(f"--feed {option}: {path} cannot be read: {exc.strerror}") from None
    raise Refused(f"--feed {option}: {path} is {what}; a feed definition is a SQL file "
                  "(e.g. sql/feeds/events.sql)")


def read(path: Path, engine: str, by_name: str | None = None) -> Feed:
    """The definition at path, with the sections of its engine twin (PATH.ENGINE.sql) in place
    of the base file's; by_name: the NAME it was found by, which it must declare."""
    sections = _sections(path)
    twin = path.with_name(f"{path.stem}.{engine}.sql")
    if twin.is_file():
        overrides = _sections(twin)
        if "declare" in overrides:
            raise Refused(f"{twin}: an engine twin replaces sections that differ by engine; "
                          f"the declare section lives in {path.name} only")
        sections.update(overrides)
    if engine == "postgresql":
        for name in ("target", "history"):
            if name in sections:
                sections[name] = [_without_rowid(st) for st in sections[name]]
    versions_in_records = "versions" not in sections and \
        any((st.created_view or "").lower() == "stored_versions" for st in sections.get("records", []))
    if versions_in_records:
        sections["versions"] = []  # a definition written for schema version 2 (its records section has it)
    missing = [name for name in SECTIONS if name not in sections and name not in OPTIONAL_SECTIONS]
    if missing:
        raise Refused(f"{path} has no section {', '.join(missing)}: a feed definition has the sections "
                      + "; ".join(f"'-- section: {n}' ({what})" for n, what in SECTIONS.items())
                      + " (see sql/feeds/events.sql)")
    declared = _declaration(path, sections["declare"])
    if by_name is not None and declared["feed"] != by_name:
        raise Refused(f"{path} declares the feed '{declared['feed']}', not '{by_name}': a feed is known by "
                      f"the name it declares. Change feed in its declare section to '{by_name}' "
                      "(or load it with --feed PATH)")
    _check_deletes(path, declared, sections)
    _check_history(path, declared, sections)
    # (stored_versions is in the versions section, or, written for schema version 2, in records)
    compares_values = any(GIVES_SAME.search(_without_comments(st.text))
                          for st in sections["versions"] + (sections["records"] if versions_in_records else []))
    if declared["corrections"] == "apply" and not compares_values:
        raise Refused(f"{path}: the feed declares corrections = 'apply', but its versions section gives no "
                      "_same (whether a record's values equal the stored row's) nor the stored row's _run_id "
                      "and _source (its delivery): without them no correction can be seen (see "
                      "sql/feeds/prices.sql and docs/feeds.md, Corrections)")
    if declared["corrections"] == "apply":
        # a correction is at the stored version: a guard that keeps out anything but a newer
        # version (>) would keep it out too, while the run counts it corrected
        strict = [name for name in ("upsert", "delete") if name in sections
                  and not any(">=" in _without_comments(st.text) for st in sections[name])]
        if strict:
            whose = "sections' guards let" if len(strict) > 1 else "section's guard lets"
            raise Refused(f"{path}: the feed declares corrections = 'apply', but its {' and '.join(strict)} "
                          f"{whose} only a newer version through: "
                          "a correction is at the stored version, so write >= "
                          "(where excluded.updated_at >= prices.updated_at; stage 09 decides which records at "
                          "the stored version apply; see sql/feeds/prices.sql)")
    return Feed(path=path, name=declared["feed"], target=declared["target"],
                key_columns=_names(declared["key_columns"]), timestamp_column=declared["timestamp_column"],
                timestamp_format=declared["timestamp_format"],
                input_columns=_names(declared["input_columns"]), sections=sections,
                versions_in_records=versions_in_records, deletes=declared["deletes"],
                deleted_column=declared.get("deleted_column"), corrections=declared["corrections"],
                compares_values=compares_values, history=declared["history"])


RANKS = re.compile(r"^\s*insert\s+into\s+history_rank\b", re.IGNORECASE)


def with_inserted(feed: Feed, section: str, loaders: list[Statement] | None) -> list[Statement]:
    """A section's statements, with the loader's (the version history's fold) right after the
    statement that ranks the values (insert into history_rank), where there are any."""
    statements = feed.sections[section]
    if not loaders:
        return statements
    at = next(i for i, st in enumerate(statements) if RANKS.match(_without_comments(st.text)))
    return statements[:at + 1] + loaders + statements[at + 1:]


def _check_history(path: Path, declared: dict, sections: dict[str, list[Statement]]) -> None:
    """A feed that keeps a version history has the section that writes it, which ranks the values
    in one statement (the loader folds right after it), and a target section that creates its
    table; one that does not keep one has no such section."""
    where = sections["declare"][0].where
    target_history = f"{declared['target']}_history"
    if declared["history"] == "off":
        if "history" in sections:
            raise Refused(f"{where}: the feed has a history section but declares no history: declare "
                          f"history = 'on' (every version kept in {target_history}), or take the section out "
                          "(docs/feeds.md, Version history)")
        return
    if "history" not in sections:
        raise Refused(f"{path}: the feed declares history = 'on', but has no '-- section: history' (the "
                      f"statements that rank the values of the versions received and write {target_history}'s "
                      "windows; see sql/feeds/prices.sql and docs/feeds.md, Version history)")
    ranking = [st for st in sections["history"] if RANKS.match(_without_comments(st.text))]
    if len(ranking) != 1:
        raise Refused(f"{sections['history'][0].where if sections['history'] else path}: the history section "
                      "ranks the values of the versions received in one statement, insert into history_rank "
                      "(the loader folds them into windows right after it; then the section writes them: "
                      "see sql/feeds/prices.sql)")
    creates = re.compile(rf"\bcreate\s+table\s+(if\s+not\s+exists\s+)?{re.escape(target_history)}\b",
                         re.IGNORECASE)
    if not any(creates.search(_without_comments(st.text)) for st in sections["target"]):
        raise Refused(f"{path}: the feed declares history = 'on', but its target section does not create "
                      f"{target_history} (the target's columns, then valid_from and valid_to; see "
                      "sql/feeds/prices.sql)")


def _check_deletes(path: Path, declared: dict, sections: dict[str, list[Statement]]) -> None:
    """A feed that declares deletes says which records are deletions (_delete) and how to apply
    them (its delete section); one that does not has neither."""
    deletes = declared["deletes"]
    gives_delete = any(GIVES_DELETE.search(_without_comments(st.text)) for st in sections["records"])
    where = sections["declare"][0].where
    if deletes == "none":
        if gives_delete or "delete" in sections:
            what = " and ".join(w for w, has in (("its records section gives _delete", gives_delete),
                                                 ("it has a delete section", "delete" in sections)) if has)
            raise Refused(f"{where}: the feed declares no deletes, but {what}. Declare deletes = 'hard' "
                          "(a deletion removes the row) or 'soft' (it marks the row), or take them out "
                          "(docs/feeds.md, Deletes)")
        return
    lacking = [what for what, has in (
        ("its records section gives no _delete (1 for a record that deletes its key, else 0)", gives_delete),
        ("it has no '-- section: delete' (the statement that removes or marks the deleted rows)",
         "delete" in sections)) if not has]
    if lacking:
        raise Refused(f"{path}: the feed declares deletes = '{deletes}', but " + "; and ".join(lacking)
                      + " (see sql/feeds/prices.sql and docs/feeds.md, Deletes)")
    if deletes == "soft":
        # the mark is set by the delete section and cleared by the upsert (a newer record brings
        # the key back): a section that never names the column cannot do its half
        mark = re.compile(rf"\b{re.escape(declared['deleted_column'])}\b", re.IGNORECASE)
        silent = [name for name in ("upsert", "delete")
                  if not any(mark.search(_without_comments(st.text)) for st in sections[name])]
        if silent:
            raise Refused(f"{path}: the feed marks deleted rows in {declared['deleted_column']} (deletes = 'soft'), "
                          f"which its {' and '.join(silent)} section{'s' if len(silent) > 1 else ''} never "
                          f"name{'' if len(silent) > 1 else 's'}: the delete section sets it to the deletion's "
                          f"version, the upsert clears it ({declared['deleted_column']} = null in its set list), "
                          "so that a newer record brings the key back (docs/feeds.md, Deletes)")


def _without_rowid(statement: Statement) -> Statement:
    """A create table statement without SQLite's WITHOUT ROWID (a PostgreSQL table is a heap
    beside its primary key's index): one definition serves both engines."""
    code = _without_comments(statement.text)
    if not _CREATE_TABLE.match(code) or not _WITHOUT_ROWID.search(code):
        return statement
    return replace(statement, text=_WITHOUT_ROWID.sub(")", statement.text),
                   pyformat_text=_WITHOUT_ROWID.sub(")", statement.pyformat_text))


def _without_comments(text: str) -> str:
    """The SQL without its -- comments (a comment may mention _delete without giving it)."""
    return "\n".join(re.sub(r"--.*$", "", line) for line in text.splitlines())


def _sections(path: Path) -> dict[str, list[Statement]]:
    """Each '-- section: NAME' and its statements, with their lines in the file."""
    lines = read_sql(path).splitlines(keepends=True)
    starts = [(i, m.group(1)) for i, line in enumerate(lines) if (m := SECTION_MARKER.match(line.strip()))]
    if not starts:
        raise Refused(f"{path} has no '-- section: NAME' lines: a feed definition is split into the "
                      f"sections {', '.join(SECTIONS)} (see sql/feeds/events.sql)")
    if split_text(path, "".join(lines[:starts[0][0]])):
        raise Refused(f"{path}: SQL before the first '-- section:' line belongs to no section")
    sections: dict[str, list[Statement]] = {}
    for n, (start, name) in enumerate(starts):
        if name not in SECTIONS:
            raise Refused(f"{path}:{start + 1}: unknown section '{name}'; the sections are {', '.join(SECTIONS)}")
        if name in sections:
            raise Refused(f"{path}:{start + 1}: the section '{name}' appears twice")
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        sections[name] = split_text(path, "".join(lines[start + 1:end]), first_line=start + 2)
    return sections


def _declaration(path: Path, statements: list[Statement]) -> dict:
    """The declare section's one row, evaluated without the database (it selects constants)."""
    where = statements[0].where if statements else f"{path}"
    if len(statements) != 1:
        raise Refused(f"{where}: the declare section is one select of constants, e.g. "
                      "select 'events' as feed, 'events' as target, ...")
    try:
        cursor = sqlite3.connect(":memory:").execute(statements[0].text)
        row = cursor.fetchall()
    except sqlite3.Error as exc:
        raise Refused(f"{where}: the declare section must be a select of constants: {exc}") from None
    names = [d[0] for d in cursor.description or ()]
    optional = [*DECLARED_CHOICES, "deleted_column"]
    if len(row) != 1 or not set(DECLARED) <= set(names) <= set(DECLARED) | set(optional) \
            or len(set(names)) != len(names):
        raise Refused(f"{where}: the declare section selects one row with the columns {', '.join(DECLARED)} "
                      f"and, if the feed needs them, {', '.join(optional)} "
                      f"(it selects {', '.join(names) or 'nothing'})")
    declared = dict(zip(names, row[0]))
    for name, value in declared.items():
        if not isinstance(value, str) or not value.strip():
            raise Refused(f"{where}: {name} must be a non-empty text, not {value!r}")
        declared[name] = value.strip()
    for name, choices in DECLARED_CHOICES.items():
        value = declared.setdefault(name, choices[0])
        if value not in choices:
            raise Refused(f"{where}: {name} is " + (" or ".join(f"'{c}'" for c in choices) if len(choices) < 3
                                                      else "one of " + ", ".join(f"'{c}'" for c in choices))
                          + f", not {value!r}")
    soft = declared["deletes"] == "soft"
    if soft != ("deleted_column" in declared):
        raise Refused(f"{where}: " + (
            "deletes = 'soft' marks a deleted row in a column of the target: name it, e.g. "
            "'deleted_at' as deleted_column" if soft else
            f"deleted_column is for deletes = 'soft' (this feed declares deletes = '{declared['deletes']}'): "
            "leave it out, or declare deletes = 'soft'"))
    if soft and not re.match(r"^[A-Za-z_]\w*$", declared["deleted_column"]):
        raise Refused(f"{where}: deleted_column is the name of a column of the target (letters, digits, "
                      f"'_'), not {declared['deleted_column']!r}")
    if not FEED_NAME.match(declared["feed"]):
        raise Refused(f"{where}: the feed name {declared['feed']!r} may hold letters, digits, '_', '.' and '-'")
    if not TABLE_NAME.match(declared["target"]):
        raise Refused(f"{where}: target is the name of the feed's table (letters, digits, '_', and "
                      f"'schema.' before it), not {declared['target']!r}")
    if declared["timestamp_format"] not in TIMESTAMP_FORMATS:
        raise Refused(f"{where}: timestamp_format is one of {', '.join(TIMESTAMP_FORMATS)}, "
                      f"not {declared['timestamp_format']!r} (convert other forms to ISO-8601 text "
                      "in the records section)")
    return declared


def _names(listed: str) -> list[str]:
    """'store_id, order_id' -> ['store_id', 'order_id'] (header names are lower case)."""
    return [name.strip().lower() for name in listed.split(",") if name.strip()]
