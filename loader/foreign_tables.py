"""Never write into another program's tables: a database without the loader's schema_version
may hold tables of its own under the names the loader uses (events, watermark, run_log).
Before the loader creates anything there, each of its tables and views (and the feed's
target) that already exists must have the columns the loader needs; other tables are
ignored (a PostgreSQL warehouse holds many)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import typed_values
from .errors import DatabaseUnusable, StageFailed
from .plan import Plan
from .sqlite_db import key_text

# What a run_log written before schema versions were recorded (version 1) has: without
# them, a run_log is not an earlier release's.
RELEASE_1_RUN_LOG = ("run_id", "kind", "status", "started_at", "source")


# What the loader's own schema_version has (since it was created, by upgrade 002).
SCHEMA_VERSION = ("version", "applied_at", "description")


def refuse_foreign_schema_version(session) -> None:
    """A schema_version table another program made is not a sign of the loader's."""
    columns = [c for table, c in session.execute_all(session.plan.hooks["existing_columns"])
               if table == "schema_version"]
    missing = [c for c in SCHEMA_VERSION if c not in columns]
    if missing:
        raise not_the_loaders(session, f"schema_version (it lacks {', '.join(missing)})")


def not_the_loaders(session, problems: str) -> DatabaseUnusable:
    return DatabaseUnusable(
        f"{session.db.display} holds tables the loader would write that another program made: "
        f"{problems}. No release of the loader wrote them; nothing was written. Give --db a "
        "database of its own (or a new file)")


def refuse(session, version: int | None) -> None:
    """Raise DatabaseUnusable naming each table that lacks the columns the loader needs."""
    existing: dict[str, list[str]] = {}
    for table, column in session.execute_all(session.plan.hooks["existing_columns"]):
        existing.setdefault(table, []).append(column)
    if version == 1:  # an earlier release's database, if its run_log is one
        wanted = {"run_log": list(RELEASE_1_RUN_LOG)}
    else:
        wanted = needed_columns(session)
    problems = []
    for table, columns in wanted.items():
        if table in existing:
            missing = [c for c in columns if c not in existing[table]]
            if missing:
                problems.append(f"{table} (it lacks {', '.join(missing)})")
    if problems:
        raise not_the_loaders(session, "; ".join(problems))


def needed_columns(session) -> dict[str, list[str]]:
    """The loader's tables and views and their columns, as its SQLite schema creates them in a
    scratch database in memory (both engines' schemas name the same columns)."""
    plan = session.plan
    if session.db.name != "sqlite":
        plan = Plan.read(Path(session.invocation.sql_dir), "sqlite", str(plan.feed.path))
    scratch = sqlite3.connect(":memory:")
    scratch.create_function("key_text", -1, key_text, deterministic=True)
    typed_values.register(scratch)
    try:
        statements = [*plan.hooks["lineage_layout"], *plan.hooks["received_version"], *plan.schema,
                      *plan.feed.sections["target"]]
        for statement in statements:
            try:
                scratch.execute(statement.text, session.params)
            except sqlite3.Error as exc:  # (a feed's target section that fails: said as the run would)
                raise StageFailed(f"{statement.where}: {exc}\n  in: {statement.first_line}") from None
        rows = scratch.execute(plan.hooks["existing_columns"][0].text).fetchall()
    finally:
        scratch.close()
    wanted: dict[str, list[str]] = {}
    for table, column in rows:
        wanted.setdefault(table, []).append(column)
    return wanted
