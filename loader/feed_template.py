"""A feed definition's text, written from what a file holds (for --new-feed).

The definition is plain SQL the user owns: every section written out, with comments saying
what to change. The same text runs on both engines (the runner drops WITHOUT ROWID on
PostgreSQL). Typed values go through the typing helpers (docs/helpers.md); an ISO-8601 or
epoch timestamp is read by the loader's own stage 03, which costs less than a helper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .column_types import MAX_DIGITS, Profile

# Words either engine reserves (PostgreSQL's reserved key words, and every word SQLite knows as
# one, some of which no identifier may be): such a column name is written double-quoted, as is
# one with any character but a-z, 0-9 and _ (date or time need no quotes on either).
KEYWORDS = frozenset("""
abort action add after all alter always analyse analyze and any array as asc asymmetric attach
authorization autoincrement before begin between binary both by cascade case cast check collate collation
column commit concurrently conflict constraint create cross current current_catalog current_date
current_role current_schema current_time current_timestamp current_user database default deferrable
deferred delete desc detach distinct do drop each else end escape except exclude exclusive exists explain
fail false fetch filter first following for foreign freeze from full generated glob grant group groups
having if ignore ilike immediate in index indexed initially inner insert instead intersect into is isnull
join key last lateral leading left like limit localtime localtimestamp match materialized natural no not
nothing notnull null nulls of offset on only or order others outer over overlaps partition placing plan
pragma preceding primary query raise range recursive references regexp reindex release rename replace
restrict returning right rollback row rows savepoint select session_user set similar some symmetric table
tablesample temp temporary then ties to trailing transaction trigger true unbounded union unique update
user using vacuum values variadic verbose view virtual when where window with within without""".split())
# PostgreSQL's system columns: no table may have a column of these names, quoted or not
SYSTEM_COLUMNS = frozenset({"xmin", "xmax", "cmin", "cmax", "ctid", "tableoid", "oid"})
PROVENANCE = ("run_id", "source", "line_no")
SQL_TYPE = {"integer": "bigint", "decimal": "numeric", "timestamp": "text", "text": "text"}


def ident(name: str) -> str:
    """A column name as SQL: bare when it can be, else double-quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Shape:
    """What the definition says, decided from the profile."""
    name: str
    key: list[str]
    timestamp: list[str]           # one column, or year, month[, day]
    ts_column: str                 # the target's column for the version
    ts_form: str                   # iso8601 | unix_seconds | a pattern
    provenance: tuple[str, str, str]
    values: list[str]              # the other columns, in the file's order

    @classmethod
    def of(cls, name: str, profile: Profile, key: list[str], timestamp: list[str]) -> "Shape":
        header = profile.header
        taken = set(header)
        ts_column = timestamp[0] if len(timestamp) == 1 else "_".join(timestamp)
        if len(timestamp) > 1 and ts_column in taken:
            ts_column += "_start"
        taken.add(ts_column)
        provenance = next(names for prefix in ("", "loaded_", "loader_", "loaded_by_loader_")
                          if not taken & set(names := tuple(prefix + p for p in PROVENANCE)))
        values = [c for c in header if c not in key and not (len(timestamp) == 1 and c == timestamp[0])]
        return cls(name, key, timestamp, ts_column, profile.timestamp.form, provenance, values)


def definition(shape: Shape, profile: Profile, command: str, file_name: str, load_command: str) -> str:
    types = {name: column.type for name, column in profile.columns.items()}
    for name in shape.key:  # a key part stays exactly what identifies the record
        if types[name] == "timestamp":
            types[name] = "text"
    parts = [_header(shape, profile, types, command, file_name, load_command), _declare(shape),
             _target(shape, types), _records(shape, types), _versions(shape), _upsert(shape), _trace(shape, types)]
    return "\n".join(parts)


def _header(shape: Shape, profile: Profile, types: dict, command: str, file_name: str, load_command: str) -> str:
    width = max(len(c) for c in profile.header)
    roles = {}
    for c in shape.key:
        roles.setdefault(c, []).append("key")
    for c in shape.timestamp:
        roles.setdefault(c, []).append("the version" if len(shape.timestamp) == 1 else
                                       f"the version ({shape.ts_column}, with {', '.join(shape.timestamp)})")
    lines = [f"-- The feed {shape.name}, written by --new-feed from {file_name} "
             f"({profile.records:,} record{'' if profile.records == 1 else 's'}):",
             f"--   {command}",
             "-- It is yours to edit: each section is plain SQL, run at its place in a load",
             "-- (docs/feeds.md; sql/feeds/events.sql is the commented example). Load the file with",
             f"--   {load_command}",
             "--",
             "-- The columns as read (a type holds for every non-empty value of the file):"]
    for c in profile.header:
        kind = types[c]
        if c in shape.timestamp and len(shape.timestamp) == 1:
            kind = {"iso8601": "timestamp (ISO-8601)", "unix_seconds": "timestamp (seconds since 1970)"} \
                .get(shape.ts_form, f"timestamp ({shape.ts_form})")
        note = ", ".join(roles.get(c, []))
        lines.append(f"--   {c.ljust(width)}  {kind}{'  ' + note if note else ''}".rstrip())
    if profile.timestamp.alternatives:
        lines += ["--", f"-- Every {', '.join(shape.timestamp)} value also reads as "
                  + " or ".join(repr(f) for f in profile.timestamp.alternatives)
                  + f": if that is what the file means, change {shape.ts_form!r} in the records section."]
    return "\n".join(lines) + "\n"


def _declare(shape: Shape) -> str:
    rows = [(literal(shape.name), "feed", ""),
            (literal(shape.name), "target", "the table it loads"),
            (literal(", ".join(shape.key)), "key_columns", "what identifies a record"),
            (literal(shape.ts_column), "timestamp_column", "its version: a newer one replaces an older"),
            (literal("unix_seconds" if shape.ts_form == "unix_seconds" else "iso8601"), "timestamp_format",
             "how stage 03 reads _ts_text"),
            (literal(", ".join(shape_inputs(shape))), "input_columns", "what every input must have"),
            ("'none'", "deletes", "or 'hard' or 'soft': a feed that sends deletions"),
            ("'report'", "corrections", "or 'apply': other values at a stored version replace it"),
            ("'off'", "history", f"or 'on': every version kept in {shape.name}_history")]
    width = max(len(v) for v, _, _ in rows)
    lines = ["-- section: declare",
             "-- deletes and history need sections this file does not have yet, and corrections = 'apply'",
             "-- needs >= in the upsert's guard: docs/feeds.md (Deletes, Corrections, Version history)",
             "-- says what to write; sql/feeds/prices.sql does all three."]
    for i, (value, name, comment) in enumerate(rows):
        sep = ";" if i == len(rows) - 1 else ","
        text = f"{'select' if i == 0 else '      '} {value.ljust(width)} as {name}{sep}"
        lines.append(f"{text.ljust(width + 32)}-- {comment}" if comment else text)
    return "\n".join(lines) + "\n"


def shape_inputs(shape: Shape) -> list[str]:
    """The input columns, each once: the key, the timestamp, the rest (year and month may be
    both key and timestamp, or timestamp and value)."""
    return list(dict.fromkeys([*shape.key, *shape.timestamp, *shape.values]))


def _target(shape: Shape, types: dict) -> str:
    rows = []
    for c in shape.key:
        rows.append((ident(c), ("bigint" if types[c] == "integer" else "text") + " not null",
                     "key" + (": canonical, 5 and 05 one key" if types[c] in ("integer", "decimal") else "")))
    rows.append((ident(shape.ts_column), "text not null", "UTC 'YYYY-MM-DDTHH:MM:SS'"))
    for c in shape.values:
        rows.append((ident(c), SQL_TYPE[types[c]], "UTC 'YYYY-MM-DDTHH:MM:SS'" if types[c] == "timestamp" else ""))
    run_id, source, line_no = shape.provenance
    rows += [(run_id, "integer not null", "the run that last wrote this row,"),
             (source, "text not null", "and the file and line it came from"),
             (line_no, "integer not null", "")]
    width = max(len(n) for n, _, _ in rows)
    lines = ["-- section: target",
             "-- One row per key: its newest version, and where it came from. WITHOUT ROWID keeps the",
             "-- rows in the key's own B-tree on SQLite (the runner drops it on PostgreSQL).",
             f"create table if not exists {shape.name} ("]
    for name, kind, comment in rows:
        text = f"    {name.ljust(width)}  {kind},"
        lines.append(f"{text.ljust(width + 26)}-- {comment}" if comment else text)
    lines.append(f"    primary key ({', '.join(map(ident, shape.key))})")
    lines.append(") without rowid;")
    return "\n".join(lines) + "\n"


def _records(shape: Shape, types: dict) -> str:
    q = {c: ident(c) for c in types}
    key_parts = [f"coalesce({_canonical(q[c], types[c])}, {q[c]})" if types[c] in ("integer", "decimal") else q[c]
                 for c in shape.key]
    key = key_parts[0] if len(key_parts) == 1 else f"key_text({', '.join(key_parts)})"
    if len(shape.timestamp) > 1:
        # (NULL when a part is missing; a part that is no integer is kept as written, for the reason)
        joined = " || '-' || ".join(f"coalesce(typed_integer({q[c]}), {q[c]})" for c in shape.timestamp)
        ts_text = f"typed_timestamp({joined}, {literal(shape.ts_form)})"
    elif shape.ts_form in ("iso8601", "unix_seconds"):
        ts_text = q[shape.timestamp[0]]
    else:
        ts_text = f"typed_timestamp({q[shape.timestamp[0]]}, {literal(shape.ts_form)})"
    outputs = [f"{key} as _key", f"{ts_text} as _ts_text"]
    for c in [*shape.key, *shape.values]:
        outputs.append(_typed(q[c], types[c], c in shape.key))
    rules = [rule for c in [*shape.key, *shape.values] if (rule := _rule(c, q[c], types[c]))]
    lines = ["-- section: records",
             "-- feed_records: each landed record (landing: one text column per input column) as the",
             "-- stages read it: _key (NULL when a part is missing), _ts_text (the timestamp as UTC text,",
             "-- or as written when it cannot be read: the reason then quotes it), the typed values, and",
             "-- _invalid: the first rule the record breaks, the reason a person reads in dead_letter.",
             "-- A rule of your own is one more 'when' (e.g. when <column> is null then '<column> is missing').",
             "drop view if exists feed_records;",
             "create temp view feed_records as",
             "select _record_no,"]
    lines += [f"       {o}," for o in outputs]
    if rules:
        lines.append("       case " + "\n            ".join(rules))
        lines.append("       end as _invalid")
    else:
        lines.append("       cast(null as text) as _invalid")
    inner = [f"nullif(trim({q[c]}), '') as {q[c]}" for c in shape_inputs(shape)]
    lines.append("  from (select _record_no,")
    lines += [f"               {i}," for i in inner[:-1]]
    lines.append(f"               {inner[-1]}")
    lines.append("          from landing) as fields;")
    return "\n".join(lines) + "\n"


def _canonical(column: str, kind: str) -> str:
    return f"typed_integer({column})" if kind == "integer" else f"typed_decimal({column}, null)"


def _typed(column: str, kind: str, in_key: bool) -> str:
    if kind == "integer":
        return f"cast(typed_integer({column}) as bigint) as {column}"
    if kind == "decimal":
        return f"typed_decimal({column}, null) as {column}" if in_key else \
            f"cast(typed_decimal({column}, {MAX_DIGITS}) as numeric) as {column}"
    if kind == "timestamp":
        return f"typed_timestamp({column}, 'iso8601') as {column}"
    return column


def _rule(name: str, column: str, kind: str) -> str | None:
    said = name.replace("'", "''")
    if kind == "integer":
        return f"when typed_integer({column}) is null and {column} is not null then '{said} is not an integer: ' || {column}"
    if kind == "decimal":
        return (f"when typed_decimal({column}, {MAX_DIGITS}) is null and {column} is not null\n"
                f"                 then case when typed_decimal({column}, null) is null then '{said} is not a "
                f"number: ' || {column}\n"
                f"                           else '{said} has more than {MAX_DIGITS} digits: ' || {column} end")
    if kind == "timestamp":
        return (f"when typed_is_timestamp({column}, 'iso8601') = 0\n"
                f"                 then '{said} is not a valid timestamp: ' || {column}")
    return None


def _versions(shape: Shape) -> str:
    run_id, source, _ = shape.provenance
    same = " and ".join(f"stored.{ident(c)} is not distinct from records.{ident(c)}" for c in shape.values)
    join = "\n                           and ".join(f"stored.{ident(c)} = records.{ident(c)}" for c in shape.key)
    lines = ["-- section: versions",
             "-- stored_versions: each record to be loaded (or skipped: for late data) whose key the",
             "-- target holds, with the stored version (_ts), whether its values are the stored ones",
             "-- (_same: every column the upsert writes but the key, the version and provenance), and",
             "-- the stored row's run and file.",
             "drop view if exists stored_versions;",
             "create temp view stored_versions as",
             f"select records._record_no, stored.{ident(shape.ts_column)} as _ts,",
             f"       {f'case when {same} then 1 else 0 end' if same else '1'} as _same,",
             f"       stored.{run_id} as _run_id, stored.{source} as _source",
             "  from run_batch as records",
             f"  join {shape.name} as stored on {join}",
             " where records._outcome in ('loaded', 'skipped');"]
    return "\n".join(lines) + "\n"


def _upsert(shape: Shape) -> str:
    run_id, source, line_no = shape.provenance
    columns = [*map(ident, shape.key), ident(shape.ts_column), *map(ident, shape.values), run_id, source, line_no]
    selected = [*map(ident, shape.key), "_ts", *map(ident, shape.values), ":run_id", "_source", "_line_no"]
    updated = columns[len(shape.key):]
    width = max(len(c) for c in updated)
    lines = ["-- section: upsert",
             "-- The guarded upsert: a stored row is replaced only by a strictly newer version, whatever",
             "-- the stages before decided (with corrections = 'apply', write >=).",
             f"insert into {shape.name} ({', '.join(columns)})",
             f"select {', '.join(selected)}",
             "  from run_batch",
             " where _outcome = 'loaded'",
             f"on conflict ({', '.join(map(ident, shape.key))}) do update"]
    for i, c in enumerate(updated):
        lines.append(f"   {'set' if i == 0 else '   '} {c.ljust(width)} = excluded.{c}{',' if i < len(updated) - 1 else ''}")
    lines.append(f" where excluded.{ident(shape.ts_column)} > {shape.name}.{ident(shape.ts_column)};")
    return "\n".join(lines) + "\n"


def _trace(shape: Shape, types: dict) -> str:
    as_text = [ident(c) if types[c] != "integer" else f"cast({ident(c)} as text)" for c in shape.key]
    key = as_text[0] if len(as_text) == 1 else f"key_text({', '.join(as_text)})"
    return ("-- section: trace\n"
            "-- The key's current row (--trace; :key is the key's text form, as _key makes it).\n"
            f"select * from {shape.name} where {key} = :key;\n")
