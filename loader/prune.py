"""--prune-history AGE: remove the lineage of old runs (sql/run/prune_history.sql) in one
transaction, then make the space reusable, and with --vacuum give it back to the file system."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from . import report
from .errors import Stops
from .invocation import Invocation
from .session import Session, Stopped
from .start import open_for, plan_for_feeds, progress_for, run_clock


def prune_history(session: Session, prune_before: str, only_feed: str | None, dry_run: bool = False,
                  vacuum: bool = False) -> dict:
    """The prune, in one transaction; then reuse_space and vacuum, each outside any
    transaction, as the engines require."""
    session.params.update(prune_before=prune_before, only_feed=only_feed)
    session.dry_run = dry_run
    session.require_history()
    result: dict = {}
    stopped = False
    try:
        with session.transaction(keep=not dry_run), session.timed("prune"):
            session.prepare_schema(with_target=False)
            size_before = session.query("database_size")[0]
            pruned_before = session.query("pruned_count")[0]["runs_pruned"]
            result = session.query("prune_history")[0]
            if dry_run:  # (measured inside the transaction: its changes count)
                size_after = session.query("database_size")[0]
    except (KeyboardInterrupt, SystemExit) as stop:
        _settle(session, stop, result, pruned_before if result else None)
        stopped = True  # kept, but stopped: the space is left to the next prune
    if not dry_run and not stopped:
        Stops.committed("the prune")
        with session.timed("reuse_space"):
            session.execute_all(session.plan.hooks["reuse_space"])
        if vacuum:
            with session.timed("vacuum"):
                session.db.while_locked(lambda: session.execute_all(session.plan.hooks["vacuum"]))
    if not dry_run:
        size_after = session.query("database_size")[0]
    return {"feed": only_feed, "pruned_before": prune_before, **result,
            "bytes_before": size_before["bytes"], "bytes_after": size_after["bytes"],
            "reusable_bytes_after": size_after["reusable_bytes"], "vacuumed": vacuum and not dry_run and not stopped,
            "dry_run": dry_run, "timings": session.timings}


def _settle(session: Session, stop: BaseException, result: dict, pruned_before: int | None) -> None:
    """A stop: if it landed once COMMIT was sent, the database says whether the prune was kept
    (the runs it chose are marked pruned_at), read under the run lock. Returns if it was."""
    session.after_stop(stop)
    if session.dry_run or not session.commit_started or not result.get("runs_pruned"):
        raise Stopped(stop, "nothing was pruned (rolled back)") from None
    with session.transaction():
        pruned_now = session.query("pruned_count")[0]["runs_pruned"]
    if pruned_now < pruned_before + result["runs_pruned"]:
        raise Stopped(stop, "nothing was pruned (rolled back)") from None
    Stops.settled(stop, "the prune")


def main(args, invocation: Invocation) -> None:
    plan, only_feed = plan_for_feeds(invocation)
    now = run_clock(invocation.now)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True), plan, now, invocation,
                      progress_for(args))
    before = (datetime.fromisoformat(now) - timedelta(seconds=args.prune_seconds)).isoformat(timespec="seconds")
    result = prune_history(session, before, only_feed, args.dry_run, args.vacuum)
    vacuum = None if args.vacuum or args.dry_run else invocation.command(
        ["--prune-history", args.prune_history, "--vacuum"], with_feed=False, now=True)
    invocation.say(report.prune_line(result, vacuum))
    report.emit(json.dumps(result, indent=2, default=report.json_value),
                done=None if args.dry_run else "the prune was committed")
    if args.output:
        report.write_json(args.output, result)
