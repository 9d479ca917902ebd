"""What is particular to PostgreSQL: the same results as SQLite, and credentials kept out of sight."""

import os
import shlex
import subprocess
import sys

import pytest

from bench.generate_batch import write_batch
from conftest import ROOT, SAMPLE, Loader, make_loader

VOLATILE = ("source", "timings")


@pytest.fixture
def pg(request, tmp_path) -> Loader:
    return make_loader("postgresql", tmp_path, request)


def test_identical_input_gives_identical_summaries_and_rows(pg, tmp_path):
    lite = Loader(tmp_path / "lite")
    (tmp_path / "lite").mkdir()
    batches = [SAMPLE, tmp_path / "b1.csv", tmp_path / "b2.csv", SAMPLE]
    write_batch(batches[1], 3000, seed=11)
    write_batch(batches[2], 3000, seed=12, start="2025-01-20T00:00:00")
    for batch in batches:
        a, b = lite.run(batch), pg.run(batch)
        assert (a.code, b.code) == (0, 0), a.stderr + b.stderr
        strip = lambda s: {k: v for k, v in s.items() if k not in VOLATILE}  # noqa: E731
        assert strip(a.summary) == strip(b.summary)
    columns = "event_id, event_ts, user_id, amount, run_id, line_no"
    assert lite.rows(f"select {columns} from events order by event_id") == \
        pg.rows(f"select {columns} from events order by event_id")
    columns = "run_id, step, event_id, line_no, event_ts, detail"
    assert lite.rows(f"select {columns} from lineage order by lineage_id") == \
        pg.rows(f"select {columns} from lineage order by lineage_id")
    columns = "dead_letter_id, run_id, line_no, raw, reason, status, resolved_by_run"
    assert lite.rows(f"select {columns} from dead_letter order by 1") == \
        pg.rows(f"select {columns} from dead_letter order by 1")


def test_a_password_never_appears_in_output_errors_or_run_log(request, tmp_path):
    from postgres_server import PASSWORD, PASSWORD_USER
    cluster = request.getfixturevalue("postgres")
    cluster.execute("postgres", "create database secret_db owner " + PASSWORD_USER)

    wrong = Loader(tmp_path, "postgresql", cluster.url("secret_db", PASSWORD_USER, "wrong-" + PASSWORD))
    result = wrong.run(SAMPLE)
    assert result.code == 3
    assert "wrong-" + PASSWORD not in result.stdout + result.stderr
    assert ":***@" in result.stderr

    right = Loader(tmp_path, "postgresql", cluster.url("secret_db", PASSWORD_USER, PASSWORD))
    result = right.run(SAMPLE, "--output", tmp_path / "out.json")
    assert result.code == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr + (tmp_path / "out.json").read_text()
    assert PASSWORD not in repr(right.rows("select * from run_log"))


def test_a_missing_driver_is_a_clear_message(pg, tmp_path):
    # a Python that cannot import psycopg: hide it behind a module that raises ImportError
    blocker = tmp_path / "block" / "psycopg"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "block")}
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), str(SAMPLE), "--db", pg.db],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert shlex.join([sys.executable, "-m", "pip", "install", "-r", str(ROOT / "requirements-postgres.txt")]) \
        in done.stderr


def test_database_url_supplies_the_default_database(pg):
    env = {**os.environ, "DATABASE_URL": pg.db}
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), str(SAMPLE), "-q"],
                          capture_output=True, text=True, env=env, cwd=pg.tmp)
    assert done.returncode == 0, done.stderr
    assert pg.rows("select count(*) from events") == [(5,)]


def test_hide_password_handles_unescaped_at_signs_and_parameters():
    from loader.postgres_db import hide_password
    assert hide_password("postgresql://u:p@ss@/db?host=/tmp/x") == "postgresql://u:***@/db?host=/tmp/x"
    assert hide_password("postgresql://u:secret@host:5432/db") == "postgresql://u:***@host:5432/db"
    assert hide_password("postgresql:///db?user=u&password=secret") == "postgresql:///db?user=u&password=***"


def test_a_run_leaves_dead_letter_statistics_for_the_next_runs_plans(pg, tmp_path):
    """A rerun moments after a load that filed many dead letters was planned from no
    statistics: stage 06 scanned the batch once per dead letter (hours at a million;
    notes.md, 60). The run reads them itself, but not while dead_letter is empty."""
    pg.load(pg.line("a", "2025-01-10T00:00:00"))  # the schema, and no dead letter
    pg.rows("alter table dead_letter set (autovacuum_enabled = false)")  # (only the run may read them)
    assert pg.rows("select reltuples from pg_class where relname = 'dead_letter'") == [(-1,)]  # never read

    batch = tmp_path / "b.csv"
    write_batch(batch, 2000, seed=5, start="2025-01-11T00:00:00")
    result = pg.run(batch)
    assert result.code == 0, result.stderr
    filed = pg.rows("select count(*) from dead_letter")[0][0]
    assert filed == result.summary["dead_letters"] > 0
    assert pg.rows("select reltuples from pg_class where relname = 'dead_letter'") == [(filed,)]
    assert pg.rows("select count(*) from pg_stats where tablename = 'dead_letter' and attname = 'status'") == [(1,)]
