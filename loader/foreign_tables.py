"""Never write into another program's tables: a database without the loader's schema_version
may hold tables of its own under the names the loader uses (events, watermark, run_log).
Before the loader creates anything there, each of its tables and views (and the feed's
target) that already exists must have the columns the loader needs; other tables are
ignored (a PostgreSQL warehouse holds many)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import DatabaseUnusable
from .plan import Plan
from .sqlite_db import key_text

# What a run_log written before schema versions were recorded (version 1) has: without
# them, a run_log is not an earlier release's.
RELEASE_1_RUN_LOG = ("run_id", "kind", "status", "started_at", "source")


def refuse(session, version: int | None, with_target: bool) -> None:
    """Raise DatabaseUnusable naming each table that lacks the columns the loader needs."""
    existing: dict[str, list[str]] = {}
    for table, column in session.execute_all(session.plan.hooks["existing_columns"]):
        existing.setdefault(table, []).append(column)
    if version == 1:  # an earlier release's database, if its run_log is one
        wanted = {"run_log": list(RELEASE_1_RUN_LOG)}
    else:
        wanted = needed_columns(session, with_target)
    problems = []
    for table, columns in wanted.items():
        if table in existing:
            missing = [c for c in columns if c not in existing[table]]
            if missing:
                problems.append(f"{table} (it lacks {', '.join(missing)})")
    if problems:
        raise DatabaseUnusable(
            f"{session.db.display} holds tables the loader would write that another program made: "
            f"{'; '.join(problems)}. It has no schema_version table, so no release of the loader "
            "wrote it; nothing was written. Give --db a database of its own (or a new file)")


def needed_columns(session, with_target: bool) -> dict[str, list[str]]:
    """The loader's tables and views and their columns, as its SQLite schema creates them in a
    scratch database in memory (both engines' schemas name the same columns)."""
    plan = session.plan
    if session.db.name != "sqlite":
        plan = Plan.read(Path(session.invocation.sql_dir), "sqlite", str(plan.feed.path))
    scratch = sqlite3.connect(":memory:")
    scratch.create_function("key_text", -1, key_text, deterministic=True)
    try:
        statements = [*plan.hooks["lineage_layout"], *plan.schema]
        if with_target:
            statements += plan.feed.sections["target"]
        for statement in statements:
            scratch.execute(statement.text, session.params)
        rows = scratch.execute(plan.hooks["existing_columns"][0].text).fetchall()
    finally:
        scratch.close()
    wanted: dict[str, list[str]] = {}
    for table, column in rows:
        wanted.setdefault(table, []).append(column)
    return wanted
