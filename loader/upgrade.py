"""--upgrade: bring a database's schema up to date in place (sql/upgrade/, oldest first), in
one transaction: what the next load would do first."""

from __future__ import annotations

import json

from . import report
from .errors import Stops
from .invocation import Invocation
from .session import Session, Stopped
from .start import open_for, plan_and_clock, progress_for


def upgrade_schema(session: Session) -> int | None:
    """The upgrade; returns the version before it. The feed's table is left to the feed's
    next load: the database may never have had it."""
    before = None
    try:
        with session.transaction():
            before = session.schema_version()
            session.prepare_schema(with_target=False)
    except (KeyboardInterrupt, SystemExit) as stop:
        # a stop during COMMIT: the version the database now records says whether it was kept
        session.after_stop(stop)
        if not (session.commit_started and _version(session) == session.plan.schema_version):
            raise Stopped(stop, "the schema was not upgraded (rolled back)") from None
        Stops.settled(stop, "the upgrade")
        return before
    Stops.committed("the upgrade")
    return before


def _version(session: Session) -> int | None:
    with session.transaction():
        return session.schema_version()


def main(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True), plan, now, invocation,
                      progress_for(args))
    before = upgrade_schema(session)
    current = plan.schema_version
    if before == current:
        invocation.say(f"{session.db.display}: the schema is up to date (version {current})")
    report.emit(json.dumps({"schema_version_before": before, "schema_version": current}, indent=2),
                done="the upgrade was committed" if before != current else None)
