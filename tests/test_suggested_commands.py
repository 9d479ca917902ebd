"""A message that suggests a command gives it complete, for the situation it was printed in:
the interpreter that ran, the same database (as the user gave it: a path made absolute, a URL
with its password masked and the message saying so, $DATABASE_URL left to the environment),
the same feed and SQL directory. Pasted as it is, from another directory, it acts on the same
database."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLE, Loader, make_loader

RUNNER = shlex.join([sys.executable, str(ROOT / "runner.py")])


def suggested(stderr: str, after: str) -> str:
    match = re.search(re.escape(after) + r"\s*(.*?)\s*$", stderr, re.M)
    assert match, stderr
    return match.group(1)


def paste(command: str, cwd, env=None) -> subprocess.CompletedProcess:
    """The command as a user pastes it into a shell."""
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


def corrupt_the_watermark(loader) -> str:
    assert loader.run(loader.sample).code == 0
    loader.rows("update watermark set value = 'garbage'")
    result = loader.run(loader.sample)
    assert result.code == 2
    return suggested(result.stderr, "Run:")


def test_repair_command_names_the_database_feed_and_sql_dir(feed_loader, tmp_path):
    loader = feed_loader
    loader.copy_sql()  # a SQL directory of the user's own: the command must name it
    command = corrupt_the_watermark(loader)

    assert command.startswith(f"{RUNNER} --repair-watermark --db {shlex.quote(str(loader.db))} "
                              f"--feed {loader.feed.name} --sql-dir {shlex.quote(str(loader.sql_dir))}")
    (tmp_path / "elsewhere").mkdir()
    done = paste(command, cwd=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert loader.rows("select value from watermark") != [("garbage",)]
    assert loader.run(loader.sample).code == 0


def test_a_definition_given_by_path_is_named_by_path(sqlite_loader, tmp_path):
    loader = sqlite_loader
    definition = tmp_path / "my_events.sql"
    shutil.copy(ROOT / "sql" / "feeds" / "events.sql", definition)
    assert loader.run(SAMPLE, "--feed", definition).code == 0
    loader.rows("update watermark set value = 'garbage'")
    result = loader.run(SAMPLE, "--feed", definition)
    assert f"--feed {definition}" in suggested(result.stderr, "Run:")


@pytest.fixture
def pg(request, tmp_path) -> Loader:
    return make_loader("postgresql", tmp_path, request)


def test_database_url_stays_in_the_environment(pg):
    assert pg.run(SAMPLE).code == 0
    pg.rows("update watermark set value = 'garbage'")
    env = {**os.environ, "DATABASE_URL": str(pg.db)}
    done = subprocess.run([sys.executable, str(ROOT / "runner.py"), str(SAMPLE)], capture_output=True,
                          text=True, env=env, cwd=pg.tmp)
    command = suggested(done.stderr, "Run:")
    assert '--db "$DATABASE_URL"' in command and str(pg.db) not in command
    assert paste(command, cwd=pg.tmp.parent, env={"DATABASE_URL": str(pg.db)}).returncode == 0
    assert pg.rows("select value from watermark") == [("2025-01-15T12:00:00",)]


def test_a_password_is_masked_and_the_message_says_so(request, tmp_path):
    from postgres_server import PASSWORD, PASSWORD_USER
    cluster = request.getfixturevalue("postgres")
    cluster.execute("postgres", "create database suggest_db owner " + PASSWORD_USER)
    loader = Loader(tmp_path, "postgresql", cluster.url("suggest_db", PASSWORD_USER, PASSWORD))
    command = corrupt_the_watermark(loader)

    assert PASSWORD not in command and ":***@" in command
    assert command.endswith("(the password in --db is shown as ***: put yours back)")
    command = command.split(" (the password")[0].replace("***", PASSWORD)
    assert paste(command, cwd=tmp_path).returncode == 0
    assert loader.rows("select value from watermark") == [("2025-01-15T12:00:00",)]


@pytest.mark.skipif(not shutil.which("sqlite3") or not shutil.which("psql"), reason="no sqlite3 or psql shell")
def test_the_rejects_are_shown_by_the_databases_own_shell(loader):
    result = loader.run(SAMPLE)
    command = suggested(result.stderr, "see them:").rsplit(");", 1)[0]
    assert command.startswith("sqlite3 " if loader.engine == "sqlite" else "psql ")
    shown = paste(command, cwd=loader.tmp.parent)
    assert shown.returncode == 0, shown.stderr
    raws = [row[0] for row in loader.rows("select raw from dead_letter")]
    assert len(raws) == 2 and all(raw.split(",")[0] in shown.stdout for raw in raws)


def test_a_dry_run_points_at_no_rejects(sqlite_loader):
    result = sqlite_loader.run(SAMPLE, "--dry-run")
    assert "2 rejected" in result.stderr and "see them" not in result.stderr
