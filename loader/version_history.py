"""A feed's version history (history = 'on'): started from what the target holds the first time
it is kept, and never extended across a hole (docs/feeds.md, Version history).

Around the feed's target section, in the opening transaction: the target section creates
<target>_history and, while the feed has no history yet, fills it from the target's rows. What a
run does to it is SQL: the feed's history section, between sql/run/version_history_received.sql
and sql/run/version_history_kept.sql.
"""

from __future__ import annotations

from .errors import Refused

HISTORY_COLUMNS = ("valid_from", "valid_to")


def prepare(session, run_target_section) -> None:
    """Runs the target section; for a feed that keeps a version history, checks that its table
    can be extended, or starts it (said on stderr)."""
    feed = session.plan.feed
    if feed.history != "on":
        run_target_section()
        return
    table = feed.history_table
    # (a table no run has kept, and empty, has no hole: it starts, as a new one does)
    existed = _columns(session, table) is not None and (
        bool(session.query("version_history_kept_by")) or _holds_rows(session, table))
    if not existed:  # (dropped to start afresh: what the last one kept goes with it)
        session.execute_all(session.plan.hooks["version_history_reset"])
    run_target_section()
    columns, target_columns = _columns(session, table), _columns(session, feed.target)
    drop = session.invocation.shell(f"drop table {table}")
    if columns is None:
        raise Refused(f"the target section of {feed.path} does not create {table}, which history = 'on' needs")
    expected = [c for c in target_columns or [] if c not in HISTORY_COLUMNS] + list(HISTORY_COLUMNS)
    if sorted(columns) != sorted(expected):
        missing, extra = [c for c in expected if c not in columns], [c for c in columns if c not in expected]
        raise Refused(f"{table} does not have {feed.target}'s columns plus valid_from and valid_to ("
                      + "; ".join(part for part in (missing and f"it lacks {', '.join(missing)}",
                                                     extra and f"it has {', '.join(extra)} besides") if part)
                      + f"): a column added to {feed.target} is added to {table} too (alter table {table} "
                      f"add column ..., docs/feeds.md, Version history), or, to start its history afresh "
                      f"from what {feed.target} holds: {drop}")
    if existed:
        hole = session.query("version_history_hole")
        if hole:
            through = hole[0]["history_through"]
            raise Refused(f"{table} was last kept " + (f"by run {through}" if through else "by no run")
                          + f", and the feed {feed.name} has loaded since (run {hole[0]['last_run_id']}, with "
                          "history off): its version history has a hole, and is never extended. To start it "
                          f"afresh from what {feed.target} holds now: {drop}")
        return
    started = session.query("version_history_started")
    rows = started[0]["through_run"] if started else None
    if rows is not None:
        # (the table is the feed's, named by its declaration: no hook can name it)
        count = session.db.cursor.execute(f"select count(*) from {table}").fetchone()[0]
        session.say(f"version history of {feed.name} started in {table} from the {count} rows {feed.target} "
                    f"held after run {rows}: every version received from now on is kept")


def _holds_rows(session, table: str) -> bool:
    # (the table is the feed's, named by its declaration: no hook can name it)
    return session.db.cursor.execute(f"select exists (select 1 from {table})").fetchone()[0] in (1, True)


def _columns(session, table: str) -> list[str] | None:
    names = [column for name, column in session.execute_all(session.plan.hooks["existing_columns"])
             if name.lower() == table.lower().split(".")[-1]]
    return names or None

