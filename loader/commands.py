"""What each command of runner.py does, from parsed arguments to output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import report
from .engines import engine_name, open_database
from .errors import Refused
from .inputs import Inputs
from .plan import Plan
from .progress import BarProgress, Progress
from .run import Run


@dataclass
class Outcome:
    committed: bool = False  # so an error after the commit is not reported as a rollback


def load(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    inputs = Inputs.open(args.inputs, args.format)
    db = open_database(args.db, args.lock_timeout)
    run = Run(db, plan, now, args.lookback_seconds, _progress(args))
    summary = run.load(inputs, dry_run=args.dry_run)
    outcome.committed = not args.dry_run
    _report_run(args, run, summary)
    db.close(discard_if_created=args.dry_run)


def replay_dead_letters(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    run = Run(open_database(args.db, args.lock_timeout, must_exist=True), plan, now, progress=_progress(args))
    summary = run.replay_dead_letters(dry_run=args.dry_run)
    if summary is None:
        _say(args, "no open dead letters: nothing to replay")
        print(json.dumps({"replayed": 0}, indent=2))
        return
    outcome.committed = not args.dry_run
    _report_run(args, run, summary)


def repair_watermark(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    result = Run(open_database(args.db, args.lock_timeout), plan, now).repair_watermark()
    outcome.committed = True
    _say(args, report.repair_line(result))
    print(json.dumps(result, indent=2))


def trace(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    run = Run(open_database(args.db, args.lock_timeout, must_exist=True), plan, now)
    history = run.read_only_query("trace", key=args.trace)
    current = run.read_only_query("trace_row", key=args.trace)
    result = {"event_id": args.trace, "current": current[0] if current else None, "history": history}
    print(report.trace_text(result))
    if args.output:
        report.write_json(args.output, result)


def runs(args, outcome: Outcome) -> None:
    plan, now = _plan_and_clock(args)
    history = Run(open_database(args.db, args.lock_timeout, must_exist=True), plan, now).read_only_query("history")
    print(report.runs_table(history))
    if args.output:
        report.write_json(args.output, {"runs": history})


def _report_run(args, run: Run, summary: dict) -> None:
    by_step = {row["step"]: row["entries"] for row in run.query("lineage_by_step")} \
        if not args.dry_run else summary.pop("lineage_by_step", None)
    if args.report and by_step is not None:
        summary["lineage_by_step"] = by_step
        _say(args, report.lineage_table(summary["run_id"], by_step))
    _say(args, ("dry run, nothing kept: " if args.dry_run else "") + report.summary_line(summary))
    print(json.dumps(summary, indent=2, default=report.json_value), flush=True)
    if args.output:
        runs = run.read_only_query("history")
        report.write_json(args.output, {"summary": summary, "lineage_by_step": by_step, "runs": runs},
                          committed_run=None if args.dry_run else summary["run_id"])


def _plan_and_clock(args) -> tuple[Plan, str]:
    return Plan.read(Path(args.sql_dir), engine_name(args.db)), run_clock(args.now)


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
