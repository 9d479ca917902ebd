"""Databases written by the previous release (c024a08, schema version 1, before feeds) are
upgraded in place by the next load, in one transaction, their history intact; reading
commands and dry runs never upgrade them. The fixtures: tests/fixtures/release_c024a08/."""

import hashlib
import json
import re
import shlex
import shutil
import subprocess

import pytest
import sqlparse

from conftest import ROOT, SAMPLE

FIXTURES = ROOT / "tests" / "fixtures" / "release_c024a08"
# what release c024a08's tables had: the upgrade must keep every row of them as it was
V1_COLUMNS = {
    "events": "event_id, event_ts, user_id, amount, run_id, source, line_no",
    "dead_letter": "dead_letter_id, run_id, source, line_no, raw, reason, status, resolved_by_run",
    "lineage": "lineage_id, run_id, step, event_id, source, line_no, event_ts, detail",
    "run_log": "run_id, kind, status, started_at, finished_at, source, input_records, staged, rejected, "
               "loaded, skipped, stale, superseded, lineage_entries, watermark_before, watermark_after, error",
}


@pytest.fixture
def old(loader):
    """The loader, pointed at a database the previous release wrote."""
    if loader.engine == "sqlite":
        shutil.copy(FIXTURES / "pipeline.db", loader.db)
    else:
        import psycopg
        with psycopg.connect(loader.db, autocommit=True) as conn:
            for statement in sqlparse.split((FIXTURES / "pipeline.postgresql.sql").read_text()):
                if statement.strip():
                    conn.execute(statement)
    return loader


def v1_rows(loader) -> dict:
    return {table: loader.rows(f"select {columns} from {table} order by 1") for table, columns in V1_COLUMNS.items()}


def schema_version(loader):
    if loader.engine == "sqlite":
        present = loader.rows("select 1 from sqlite_master where name = 'schema_version'")
    else:
        present = loader.rows("select 1 from information_schema.tables where table_name = 'schema_version'")
    return loader.rows("select max(version) from schema_version")[0][0] if present else None


def digest(loader) -> str:
    loader.rows("pragma wal_checkpoint(truncate)")
    return hashlib.sha256(loader.db.read_bytes()).hexdigest()


def test_the_next_load_upgrades_in_place_and_keeps_the_history(old):
    before = v1_rows(old)
    assert schema_version(old) is None and before["run_log"][2][2] == "failed"

    result = old.run(old.batch("evt-010,2025-01-16T00:00:00,user-6,3"))

    assert result.code == 0, result.stderr
    assert "upgrading" in result.stderr and "from schema version 1 to 2" in result.stderr
    assert schema_version(old) == 2
    assert old.rows("select description from schema_version") == [
        ("upgraded from version 1 by 002_feeds.sql",)]
    after = v1_rows(old)
    assert {t: after[t][:len(before[t])] for t in before if t != "run_log"} == \
        {t: before[t] for t in before if t != "run_log"}
    assert after["run_log"][:4] == before["run_log"]
    # every earlier row is the sample feed's; the new run continues the numbering
    for table in ("run_log", "lineage", "dead_letter"):
        assert old.rows(f"select distinct feed from {table}") == [("events",)]
    assert result.summary["run_id"] == 5 and result.summary["watermark_before"] == "2025-01-15T13:00:00"
    assert old.rows("select feed, value from watermark") == [("events", "2025-01-16T00:00:00")]
    # the history reads as before: a trace spans the old runs and the new
    assert old.run("--trace", "evt-005", "--output", old.tmp / "trace.json").code == 0
    story = json.loads((old.tmp / "trace.json").read_text())
    assert [(h["run_id"], h["step"]) for h in story["history"]] == [
        (1, "staged"), (1, "loaded"), (2, "staged"), (2, "loaded"), (2, "staged"), (2, "superseded"),
        (4, "staged"), (4, "skipped")]
    # and the watermark still skips what the old runs loaded
    again = old.run(SAMPLE).summary
    assert (again["loaded"], again["skipped"]) == (0, 5)


def test_reading_commands_and_dry_runs_do_not_upgrade(old):
    if old.engine == "sqlite":
        untouched = digest(old)
    before = v1_rows(old)
    for args in (["--runs"], ["--trace", "evt-001"], ["--replay-dead-letters", "--dry-run"]):
        result = old.run(*args)
        assert result.code == 2, result.stderr
        assert "written by an earlier release" in result.stderr
        assert f"runner.py --upgrade --db {shlex.quote(str(old.db))} --feed events" in result.stderr
    dry = old.run(SAMPLE, "--dry-run")
    assert dry.code == 0 and dry.summary["dry_run"] is True
    assert "upgrading" in dry.stderr and "a dry run: rolled back with the rest" in dry.stderr
    assert schema_version(old) is None and v1_rows(old) == before
    if old.engine == "sqlite":
        assert digest(old) == untouched
    # the command the message gives works as it is written, from another directory
    command = re.search(r"history kept: (.*) \(the next load", result.stderr).group(1)
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, cwd=old.tmp.parent)
    assert done.returncode == 0, done.stderr
    assert schema_version(old) == 2


def test_an_upgrade_that_fails_changes_nothing(old):
    before = v1_rows(old)
    sql = old.copy_sql()
    upgrade = sql / "upgrade" / "002_feeds.sql"
    upgrade.write_text(upgrade.read_text() + "\nalter table no_such_table add column x text;\n")
    result = old.run(SAMPLE)
    assert result.code == 1
    assert "upgrade/002_feeds.sql:" in result.stderr and "no_such_table" in result.stderr
    assert schema_version(old) is None and v1_rows(old) == before
    old.sql_dir = ROOT / "sql"
    assert old.run(SAMPLE).code == 0 and schema_version(old) == 2


def test_upgrade_on_its_own(old):
    result = old.run("--upgrade")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"schema_version_before": 1, "schema_version": 2}
    assert "upgrading" in result.stderr
    again = old.run("--upgrade")
    assert json.loads(again.stdout) == {"schema_version_before": 2, "schema_version": 2}
    assert "up to date" in again.stderr
    assert old.run("--runs").code == 0


def test_a_database_of_a_newer_release_is_refused(loader):
    assert loader.run(SAMPLE).code == 0
    loader.rows("insert into schema_version (version, applied_at, description) values (99, 'x', 'future')")
    result = loader.run(SAMPLE)
    assert result.code == 2 and "newer release" in result.stderr and "version 99" in result.stderr
    assert loader.rows("select count(*) from run_log") == [(1,)]


def columns(loader, table: str) -> list[tuple]:
    if loader.engine == "sqlite":
        return [(r[1], r[2].lower(), r[3], r[4], r[5]) for r in loader.rows(f"pragma table_info({table})")]
    return loader.rows("select column_name, data_type, is_nullable, column_default from information_schema.columns"
                       " where table_name = ? and table_schema = current_schema() order by ordinal_position", table)


def test_an_upgraded_database_has_the_schema_of_a_new_one(old, tmp_path, request):
    from conftest import make_loader
    assert old.run(SAMPLE).code == 0
    (tmp_path / "new").mkdir()
    new = make_loader(old.engine, tmp_path / "new", request)
    assert new.run(SAMPLE).code == 0
    for table in ("events", "dead_letter", "lineage", "watermark", "run_log", "schema_version", "feeds"):
        assert columns(old, table) == columns(new, table), table
