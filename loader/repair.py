"""--repair-watermark: put back a feed's watermark from its run history
(sql/run/repair_watermark.sql), in a transaction of its own."""

from __future__ import annotations

import json

from . import report
from .errors import Stops
from .invocation import Invocation
from .session import Session, Stopped
from .start import open_for, plan_and_clock, progress_for


def repair_watermark(session: Session) -> dict:
    result: dict = {}
    try:
        with session.transaction():
            session.prepare_schema()
            result = session.query("repair_watermark")[0]
    except (KeyboardInterrupt, SystemExit) as stop:
        # a stop during COMMIT: the watermark now in the database says whether it was kept
        session.after_stop(stop)
        if not (result and session.commit_started and _watermark(session) == result["watermark"]):
            raise Stopped(stop, "the watermark was not changed (rolled back)") from None
        Stops.settled(stop, "the repair")
        return result
    Stops.committed("the repair")
    return result


def _watermark(session: Session):
    with session.transaction():
        rows = session.execute_all(session.plan.hooks["read_watermark"])
    return rows[0][0] if rows else None


def main(args, invocation: Invocation) -> None:
    plan, now = plan_and_clock(invocation)
    # must exist: a mistyped --db is not created (nothing to repair there)
    session = Session(open_for(invocation, args.lock_timeout, must_exist=True), plan, now, invocation,
                      progress_for(args))
    result = {"feed": plan.feed.name, **repair_watermark(session)}
    invocation.say(report.repair_line(result, invocation.shell))
    report.emit(json.dumps(result, indent=2, default=report.json_value), done="the watermark was repaired")
