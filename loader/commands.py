"""What each command of runner.py does, from parsed arguments to output."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import report
from .engines import engine_name, open_database
from .errors import LateRecords, Refused
from .feed import DEFAULT_FEED, is_path
from .inputs import Inputs
from .openlineage import Reporter
from .plan import Plan
from .postgres_db import hide_password
from .progress import BarProgress, Progress
from .run import RUNNER, Run
from .sqlite_db import key_text


DEFAULT_SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@dataclass
class Outcome:
    committed: bool = False  # so an error after the commit is not reported as a rollback


def load(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    inputs = Inputs.open(args.inputs, args.format)
    db = open_database(args.db, args.lock_timeout)
    run = _run(args, db, plan, now, args.lookback_seconds, reported=not args.dry_run)
    summary = run.load(inputs, dry_run=args.dry_run)
    outcome.committed = not args.dry_run
    _report_run(args, run, summary, inputs)
    db.close(discard_if_created=args.dry_run)
    if args.fail_on_late and summary["late_skipped"]:
        kept = "nothing was kept (a dry run)" if args.dry_run else f"run {summary['run_id']} was committed"
        raise LateRecords(f"{summary['late_skipped']} late record{'s' if summary['late_skipped'] > 1 else ''} "
                          f"skipped (--fail-on-late); {kept}")


def replay_dead_letters(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    run = _run(args, open_database(args.db, args.lock_timeout, must_exist=True), plan, now,
               reported=not args.dry_run)
    summary = run.replay_dead_letters(dry_run=args.dry_run)
    if summary is None:
        _say(args, f"no open dead letters for the feed {plan.feed.name}: nothing to replay")
        print(json.dumps({"replayed": 0}, indent=2))
        return
    outcome.committed = not args.dry_run
    _report_run(args, run, summary)


def repair_watermark(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    result = {"feed": plan.feed.name, **_run(args, open_database(args.db, args.lock_timeout), plan, now)
              .repair_watermark()}
    outcome.committed = True
    _say(args, report.repair_line(result))
    print(json.dumps(result, indent=2))


def upgrade(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    run = _run(args, open_database(args.db, args.lock_timeout, must_exist=True), plan, now)
    result = run.upgrade()
    outcome.committed = True
    if result["schema_version_before"] == result["schema_version"]:
        _say(args, f"{run.db.display}: the schema is up to date (version {result['schema_version']})")
    print(json.dumps(result, indent=2))


def prune_history(args, outcome: Outcome) -> None:
    plan, only_feed = _plan_for_feeds(args)
    now = run_clock(args.now)
    run = _run(args, open_database(args.db, args.lock_timeout, must_exist=True), plan, now)
    before = (datetime.fromisoformat(now) - timedelta(seconds=args.prune_seconds)).isoformat(timespec="seconds")
    result = run.prune_history(before, only_feed, args.dry_run, args.vacuum)
    outcome.committed = not args.dry_run
    vacuum = None if args.vacuum or args.dry_run else suggest(
        args, ["--prune-history", args.prune_history, "--vacuum"], with_feed=False, now=True)
    _say(args, report.prune_line(result, vacuum))
    print(json.dumps(result, indent=2, default=report.json_value))
    if args.output:
        report.write_json(args.output, result)


def trace(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    run = _run(args, open_database(args.db, args.lock_timeout, must_exist=True), plan, now)
    run.check_readable("--trace")
    key = trace_key(args.trace, plan.feed)
    history = run.read_only_query("trace", key=key)
    current, missing_table = run.current_row(key)
    feed = plan.feed
    pruned = run.read_only_query("pruned_history")
    result = {"feed": feed.name, "key_columns": feed.key_columns, "key": key, "target": feed.target,
              "missing_table": missing_table, "current": current,
              "pruned": pruned[0] if pruned and pruned[0]["runs_pruned"] else None, "history": history}
    print(report.trace_text(result))
    if args.output:
        report.write_json(args.output, result)


def runs(args, outcome: Outcome) -> None:
    plan, only_feed = _plan_for_feeds(args)
    run = _run(args, open_database(args.db, args.lock_timeout, must_exist=True), plan, run_clock(args.now))
    run.check_readable("--runs")
    history = run.read_only_query("history", only_feed=only_feed)
    print(report.runs_table(history))
    if args.output:
        report.write_json(args.output, {"runs": history})


def _plan_for_feeds(args) -> tuple[Plan, str | None]:
    """For the commands over every feed, or the one --feed names (--runs, --prune-history):
    the plan, and the feed to keep to (None: every feed). A feed named by name needs no
    definition at hand (its runs are on record by name): the plan is then any feed's."""
    sql_dir, engine = Path(args.sql_dir), engine_name(args.db)
    if args.feed and is_path(args.feed):
        plan = Plan.read(sql_dir, engine, args.feed)
        return plan, plan.feed.name
    try:
        return Plan.read(sql_dir, engine, args.feed), args.feed
    except Refused:
        if not args.feed:
            raise
        others = sorted(p for p in (sql_dir / "feeds").glob("*.sql") if p.name.count(".") == 1)
        for name in [DEFAULT_FEED] + [p.stem for p in others]:
            try:
                return Plan.read(sql_dir, engine, name), args.feed
            except Refused:
                continue
        raise


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


def _run(args, db, plan: Plan, now: str, lookback_seconds: int = 0, reported: bool = False) -> Run:
    """reported: a load or replay that keeps what it does, reported to OpenLineage if the
    environment asks for it."""
    reporter = Reporter.from_environment(lambda line: _say(args, line)) if reported else None
    return Run(db, plan, now, lookback_seconds, _progress(args), runner_options=runner_options(args),
               command_note=command_note(args), notify=lambda message: _say(args, message), reporter=reporter)


def _again_with_lookback(args, run: Run, inputs: Inputs, summary: dict) -> str:
    """This load again, complete, with the lookback that reaches its oldest late record."""
    behind = datetime.fromisoformat(summary["watermark_before"]) - datetime.fromisoformat(summary["oldest_late"])
    days = max(1, math.ceil(behind.total_seconds() / 86400))
    files = [name if name == "-" else str(Path(name).resolve()) for name in args.inputs]
    options = ["--format", args.format] if args.format else []
    return suggest(args, files + options + ["--lookback", f"{days}d"], now=True)


def suggest(args, command: list[str], with_feed: bool = True, now: bool = False) -> str:
    """A command for a message to suggest, complete: the interpreter that runs this one, this
    runner.py, the command, and the options that point it at the same database and feed;
    with now, the clock this run pinned, if it pinned one."""
    options = shlex.join(command) + " " + runner_options(args, with_feed)
    if now and args.now:
        options += " " + shlex.join(["--now", args.now])
    return f"{RUNNER} {options}{command_note(args)}"


def runner_options(args, with_feed: bool = True) -> str:
    """The options that point another command at the same database, rules and feed, for
    messages that suggest one (e.g. --repair-watermark after a corrupted watermark): --feed
    as the user gave it, or (with_feed) the default feed's name, which the command would
    otherwise assume. Absolute paths: the message may be read (in run_log) from elsewhere."""
    options = []
    if args.feed:
        options += ["--feed", str(Path(args.feed).resolve()) if is_path(args.feed) else args.feed]
    elif with_feed:
        options += ["--feed", DEFAULT_FEED]
    if Path(args.sql_dir).resolve() != DEFAULT_SQL_DIR:
        options += ["--sql-dir", str(Path(args.sql_dir).resolve())]
    return " ".join(["--db", _db_option(args), *map(shlex.quote, options)])


def _db_option(args) -> str:
    """--db's value for a suggested command, quoted for a shell."""
    if args.db_from_env:
        return '"$DATABASE_URL"'  # left to the environment, as the user left it: no password printed
    if engine_name(args.db) == "postgresql":
        return shlex.quote(hide_password(args.db))
    return shlex.quote(str(Path(args.db).resolve()))


def shell_query(args, sql: str) -> str:
    """The database's own shell running sql, complete: sqlite3 on the file, psql on the URL."""
    quoted = f'"{sql}"' if not set('"$`\\!') & set(sql) else shlex.quote(sql)
    if engine_name(args.db) != "postgresql":
        return f"sqlite3 {shlex.quote(str(Path(args.db).resolve()))} {quoted}"
    return f"psql {_db_option(args)} -c {quoted}{command_note(args)}"


def command_note(args) -> str:
    """What a suggested command leaves to the user: a password it does not repeat."""
    if not args.db_from_env and engine_name(args.db) == "postgresql" and hide_password(args.db) != args.db:
        return " (the password in --db is shown as ***: put yours back)"
    return ""


def _report_run(args, run: Run, summary: dict, inputs: Inputs | None = None) -> None:
    by_step = summary.pop("lineage_by_step", None) if args.dry_run else \
        {row["step"]: row["entries"] for row in run.query("lineage_by_step")} if args.report or args.output \
        else None
    if args.report and by_step is not None:
        summary["lineage_by_step"] = by_step
        _say(args, report.lineage_table(summary["run_id"], by_step))
    see_rejects = None if args.dry_run else \
        shell_query(args, f"select * from open_dead_letters where feed = '{summary['feed']}'")
    _say(args, ("dry run, nothing kept: " if args.dry_run else "") + report.summary_line(summary, see_rejects))
    if summary["late_skipped"] and inputs is not None:
        _say(args, report.late_line(summary, run.plan.feed, _again_with_lookback(args, run, inputs, summary)))
    if summary["unused_columns"]:
        _say(args, report.unused_columns_line(summary, run.plan.feed))
    if run.plan.feed.versions_in_records:
        _say(args, report.versions_in_records_line(run.plan.feed))
    print(json.dumps(summary, indent=2, default=report.json_value), flush=True)
    if args.output:
        runs = run.read_only_query("history")
        report.write_json(args.output, {"summary": summary, "lineage_by_step": by_step, "runs": runs},
                          committed_run=None if args.dry_run else summary["run_id"])


def _plan_and_clock(args) -> tuple[Plan, str]:
    return Plan.read(Path(args.sql_dir), engine_name(args.db), args.feed), run_clock(args.now)


def _progress(args) -> Progress:
    wanted = args.progress or (sys.stderr.isatty() and not args.quiet)
    return BarProgress() if wanted else Progress()


def _say(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def run_clock(pinned: str | None) -> str:
    if pinned is None:
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Refused(f"--now {pinned!r} is not a timestamp like 2025-01-16T00:00:00") from None
    if not 1000 <= moment.year <= 9998:
        raise Refused(f"--now {pinned!r}: the year must be between 1000 and 9998")
    return moment.isoformat(timespec="seconds")
