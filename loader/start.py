"""What every command does first: read its plan (stages, hooks, the feed), pin the run's
clock and open the database; and how it shows progress."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from .engines import open_database
from .errors import Refused
from .feed import DEFAULT_FEED, is_path
from .invocation import Invocation
from .plan import Plan
from .progress import BarProgress, Progress


def plan_and_clock(invocation: Invocation) -> tuple[Plan, str]:
    return Plan.read(Path(invocation.sql_dir), invocation.engine, invocation.feed), run_clock(invocation.now)


def open_for(invocation: Invocation, lock_timeout: float, must_exist: bool = False, read_only: bool = False):
    """must_exist: for the commands that act on history (a mistyped --db should not look empty);
    read_only: for the reading commands (a SQLite file opened mode=ro: it may be read-only)."""
    return open_database(invocation.db, lock_timeout, must_exist, read_only=read_only, warn=invocation.say)


def plan_for_feeds(invocation: Invocation) -> tuple[Plan, str | None]:
    """For the commands over every feed, or the one --feed names (--runs, --prune-history):
    the plan, and the feed to keep to (None: every feed). A feed named by name needs no
    definition at hand (its runs are on record by name): the plan is then any feed's."""
    sql_dir, engine, feed = Path(invocation.sql_dir), invocation.engine, invocation.feed
    if feed and is_path(feed):
        plan = Plan.read(sql_dir, engine, feed)
        return plan, plan.feed.name
    try:
        return Plan.read(sql_dir, engine, feed), feed
    except Refused:
        if not feed:
            raise
        others = sorted(p for p in (sql_dir / "feeds").glob("*.sql") if p.name.count(".") == 1)
        for name in [DEFAULT_FEED] + [p.stem for p in others]:
            try:
                return Plan.read(sql_dir, engine, name), feed
            except Refused:
                continue
        raise


def progress_for(args) -> Progress:
    wanted = args.progress or (sys.stderr.isatty() and not args.quiet)
    return BarProgress() if wanted else Progress()


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
