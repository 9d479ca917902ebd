"""The reading commands, --trace KEY and --runs: they read outside any transaction, take no
lock and change nothing; they never upgrade a database (check_readable)."""

from __future__ import annotations

from . import report
from .errors import Refused, StageFailed
from .invocation import Invocation
from .session import Session
from .sqlite_db import key_text
from .start import open_for, plan_and_clock, plan_for_feeds, progress_for, run_clock


def trace(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True, read_only=True), plan, now, invocation,
                      progress_for(args))
    session.check_readable("--trace")
    feed = plan.feed
    key = trace_key(args.trace, feed)
    history = session.read_only_query("trace", key=key)
    current, missing_table = _current_row(session, key)
    versions = session.query("trace_versions", key=key) if plan.hooks["trace_versions"] and not missing_table \
        else None
    tombstone = session.read_only_query("tombstone", key=key)
    pruned = session.read_only_query("pruned_history")
    result = {"feed": feed.name, "key_columns": feed.key_columns, "key": key, "target": feed.target,
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


def trace_key(values: list[str], feed) -> str:
    """--trace's values as the key's text form: one value is the key (or, for a key of several
    columns, its text form); several are its columns' values in key order."""
    columns = feed.key_columns
    if len(values) == 1 and (len(columns) == 1 or values[0].startswith("[")):
        return values[0]
    if len(columns) == 1:
        raise Refused(f"the key of the feed {feed.name} is one column ({columns[0]}): give --trace one value")
    if len(values) != len(columns):
        example = key_text(*(f"<{c}>" for c in columns))
        raise Refused(f"the key of the feed {feed.name} has {len(columns)} columns ({', '.join(columns)}): "
                      f"give --trace {len(columns)} values in that order, or the key's text form, e.g. '{example}'")
    return key_text(*values)


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
