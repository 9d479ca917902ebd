"""The reading commands, --trace KEY and --runs: they read outside any transaction, take no
lock and change nothing; they never upgrade a database (check_readable)."""

from __future__ import annotations

import json
import re

from . import report
from .errors import Refused, StageFailed
from .invocation import Invocation
from .landing import OWN_COLUMNS, quote_identifier
from .session import Session
from .sql_files import split_text
from .sqlite_db import key_text
from .start import open_for, plan_and_clock, plan_for_feeds, progress_for, run_clock


def trace(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True, read_only=True), plan, now, invocation,
                      progress_for(args))
    session.check_readable("--trace")
    feed = plan.feed
    key = trace_key(args.trace, feed, lambda values: _key_made_by_definition(session, values))
    history = session.read_only_query("trace", key=key)
    current, missing_table = _current_row(session, key)
    versions = session.query("trace_versions", key=key) if plan.hooks["trace_versions"] and not missing_table \
        else None
    tombstone = session.read_only_query("tombstone", key=key)
    pruned = session.read_only_query("pruned_history")
    result = {"feed": feed.name, "key_columns": feed.key_columns, "timestamp_column": feed.timestamp_column,
              "key": key, "target": feed.target,
              "missing_table": missing_table, "current": current,
              "deleted": tombstone[0] if tombstone else None,
              "pruned": pruned[0] if pruned and pruned[0]["runs_pruned"] else None, "history": history}
    if versions is not None:
        result["versions"] = versions
    report.emit(report.trace_text(result), done="nothing was changed")
    if args.output:
        report.write_json(args.output, result)


def runs(args, invocation: Invocation) -> None:
    plan, only_feed = plan_for_feeds(invocation)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True, read_only=True), plan, run_clock(invocation.now),
                      invocation, progress_for(args))
    session.check_readable("--runs")
    history = session.read_only_query("history", only_feed=only_feed)
    report.emit(report.runs_table(history), done="nothing was changed")
    if args.output:
        report.write_json(args.output, {"runs": history})


def trace_key(values: list[str], feed, made_by_definition=None) -> str:
    """--trace's values as the key's text form: one value is the key (or, for a key of several
    columns, its text form); several are its columns' values in key order. made_by_definition:
    the key the feed's records section makes of them (5 and 05 one key where it says so), or
    None where it makes none."""
    columns = feed.key_columns
    if len(values) == 1 and len(columns) > 1 and values[0].startswith("["):
        try:
            parts = json.loads(values[0])
        except ValueError:
            parts = None
        if not (isinstance(parts, list) and len(parts) == len(columns) and all(isinstance(p, str) for p in parts)):
            return values[0]
        values = parts  # (the text form's values, made into the key as any others)
    if len(columns) == 1 and len(values) != 1:
        raise Refused(f"the key of the feed {feed.name} is one column ({columns[0]}): give --trace one value")
    if len(values) != len(columns):
        example = key_text(*(f"<{c}>" for c in columns))
        raise Refused(f"the key of the feed {feed.name} has {len(columns)} columns ({', '.join(columns)}): "
                      f"give --trace {len(columns)} values in that order, or the key's text form, e.g. '{example}'")
    made = made_by_definition(values) if made_by_definition else None
    return made if made is not None else key_text(*values)


_FEED_RECORDS = re.compile(r"\bcreate\s+(temp\w*\s+)?view\s+feed_records\s+as\s+", re.IGNORECASE)
_WITH = re.compile(r"^\s*with\s+(recursive\s+)?", re.IGNORECASE)


def _key_made_by_definition(session: Session, values: list[str]) -> str | None:
    """The key the feed's records section makes of the given values: its view's select run over
    a one-row landing (a common table expression: nothing is created, so a read-only database
    serves). None where a key column is not an input column or the select fails on the row."""
    feed = session.plan.feed
    if not set(feed.key_columns) <= set(feed.input_columns):
        return None
    view = next((st for st in feed.sections["records"] if st.created_view and
                 st.created_view.lower() == "feed_records"), None)
    match = _FEED_RECORDS.search(view.text) if view else None
    if match is None:
        return None
    given = dict(zip(feed.key_columns, values))
    params = {f"trace_value_{i}": given.get(column) for i, column in enumerate(feed.input_columns)}
    columns = [*OWN_COLUMNS, *feed.input_columns]
    row = ["1", "cast('--trace' as text)", "0", "cast('' as text)", "cast(null as text)",
           *(f"cast(:{name} as text)" for name in params)]
    landing = f"landing ({', '.join(map(quote_identifier, columns))}) as (select {', '.join(row)})"
    select = view.text[match.end():]
    with_ = _WITH.match(select)
    text = (f"{with_.group(0)}{landing}, {select[with_.end():]}" if with_ else f"with {landing} {select}")
    statement = split_text(view.file, f"select _key from ({text.rstrip().rstrip(';')}) as made", view.line)[0]
    try:
        rows = session.execute_all([statement], params)
    except StageFailed:
        return None
    return rows[0][0] if rows and rows[0][0] is not None else None


def _current_row(session: Session, key: str) -> tuple[dict | None, str | None]:
    """The key's row in the feed's target (its trace section), and why there is no table to
    look in, if there is none: said so, never taken for "no row"."""
    try:
        rows = session.query("trace_row", key=key)
    except StageFailed as exc:
        if session.db.is_missing_table(exc):
            return None, str(exc).splitlines()[0]
        raise
    return (rows[0] if rows else None), None
