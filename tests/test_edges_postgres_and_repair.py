"""Issue 20, items 4, 9 and 15: a PostgreSQL session the server ends (told as such, the run on
record as failed, no input row in any message), a password with a literal % (never shown), and
the repair of a watermark a clock pinned ahead left in the future (it leads to runs that work)."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import ROOT, SAMPLE, Loader, make_loader

ENDED = "the server ended the connection (terminated by an administrator, or shutting down)"


@pytest.fixture
def pg(request, tmp_path) -> Loader:
    return make_loader("postgresql", tmp_path, request)


def start(loader: Loader, *args, now="2025-02-01T00:00:00") -> subprocess.Popen:
    """The runner, in the background, as Loader.run would run it."""
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db),
           "--sql-dir", str(loader.sql_dir), "--now", now]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=loader.tmp)


def terminate_when(loader: Loader, runner: subprocess.Popen, query_like: str, timeout: float = 60) -> bool:
    """pg_terminate_backend on the runner's session as soon as it runs a statement like query_like
    (as an administrator would); False if the runner ended first."""
    import psycopg
    deadline = time.monotonic() + timeout
    with psycopg.connect(loader.db, autocommit=True) as admin:
        while time.monotonic() < deadline and runner.poll() is None:
            killed = admin.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                                   "where datname = current_database() and pid <> pg_backend_pid() "
                                   "and state = 'active' and query ilike %s", (query_like,)).fetchall()
            if killed:
                return True
            time.sleep(0.005)
    return False


def last_run(loader: Loader) -> tuple:
    return loader.rows("select status, error from run_log order by run_id desc limit 1")[0]


# 4. A session the server ends ---------------------------------------------------------

def test_a_session_terminated_during_a_stage_is_exit_3_said_so_and_recorded_failed(pg):
    sql = pg.copy_sql()
    (sql / "13_wait.sql").write_text("-- a stage that takes its time\nselect pg_sleep(60);\n")
    runner = start(pg, SAMPLE)
    try:
        assert terminate_when(pg, runner, "%pg_sleep(60)%")
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()

    assert runner.returncode == 3, err
    assert "13_wait.sql" in err and "terminating connection due to administrator command" in err
    assert ENDED in err and "shutting down;" not in err
    assert "Traceback" not in err and out == ""
    # the runner saw the error: the failure is on record (over a new connection: the lead's part
    # of item 4), not left 'running' for the next run to call interrupted
    status, error = last_run(pg)
    assert status == "failed" and ENDED in error
    assert pg.rows("select count(*) from events") == [(0,)]


# A server-side trigger on the landing table, put there by an event trigger when the runner
# creates it: at the record whose text holds 'poison' it ends its own session (as
# pg_terminate_backend from an administrator would, but at a known row) or raises an error. The
# server's CONTEXT then quotes the row being copied.
ARM_LANDING = """
create function stop_at_poison() returns trigger language plpgsql as $$
begin
    if new._raw like '%poison%' then
        if TG_ARGV[0] = 'terminate' then
            perform pg_terminate_backend(pg_backend_pid());
            perform pg_sleep(10);
        end if;
        raise exception 'refused by a trigger of the DBA';
    end if;
    return new;
end $$;
create function arm_landing() returns event_trigger language plpgsql as $$
begin
    if exists (select 1 from pg_event_trigger_ddl_commands() where object_identity like 'pg_temp%.landing') then
        create trigger stop_at_poison before insert on pg_temp.landing for each row
            execute function public.stop_at_poison('ACTION');
    end if;
end $$;
create event trigger arm_landing on ddl_command_end when tag in ('CREATE TABLE') execute function arm_landing();
"""


@pytest.mark.parametrize("action, code", [("terminate", 3), ("raise", 1)])
def test_an_error_while_landing_names_the_file_and_line_never_the_row(pg, action, code):
    import psycopg
    with psycopg.connect(pg.db, autocommit=True) as admin:
        admin.execute(ARM_LANDING.replace("ACTION", action))
    batch = pg.batch(*[pg.line(f"k{n}", "2025-01-20T00:00:00", "u", n) for n in range(1, 4)],
                     pg.line("k4", "2025-01-20T00:00:00", "poison-row-text", 4),
                     pg.line("k5", "2025-01-20T00:00:00", "u", 5))
    result = pg.run(batch)

    assert result.code == code, result.stderr
    assert f"(while landing line 5 of {batch})" in result.stderr  # the header is line 1
    assert "poison" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if action == "terminate":
        assert ENDED in result.stderr
    status, error = last_run(pg)
    assert status == "failed"  # (for 'terminate', over a new connection: the lead's part of item 4)
    assert "poison" not in error and f"line 5 of {batch}" in error


def test_a_session_terminated_in_the_middle_of_a_large_landing_shows_no_row(pg):
    # wherever the COPY is when the session ends, the error comes in one of several shapes
    # (the server's FATAL with its CONTEXT, or libpq's "server closed the connection"): each is
    # the same message, and none quotes a record
    batch = pg.tmp / "large.csv"
    with open(batch, "w") as f:
        f.write("event_id,event_ts,user_id,amount\n")
        f.writelines(f"e{n},2025-01-20T00:00:00,secret-user-{n},{n}\n" for n in range(300_000))
    runner = start(pg, batch)
    try:
        if not terminate_when(pg, runner, "copy landing%"):
            pytest.skip("the landing ended before it could be seen running")
        out, err = runner.communicate(timeout=120)
    finally:
        runner.kill()

    assert runner.returncode == 3, err
    assert ENDED in err
    assert "secret-user" not in out + err and "Traceback" not in err
    assert "error ignored" not in err  # psycopg's own note of the same error
    status, error = last_run(pg)
    assert status == "failed" and "secret-user" not in error  # (the lead's part of item 4)


# 9. A password with a literal % --------------------------------------------------------

BAD_PASSWORDS = ["Pa%ss-w0rd", "50%off-now", "per-cent-100%"]  # % not followed by two hex digits


@pytest.fixture
def percent_password(request):
    """PASSWORD_USER's password made one with a literal %, put back afterwards."""
    from postgres_server import PASSWORD, PASSWORD_USER
    cluster = request.getfixturevalue("postgres")
    cluster.execute("postgres", f"alter user {PASSWORD_USER} password 'Pa%ss-w0rd'")
    yield cluster, PASSWORD_USER, "Pa%ss-w0rd"
    cluster.execute("postgres", f"alter user {PASSWORD_USER} password '{PASSWORD}'")


def run_with(url: str, via: str, cwd, *args) -> subprocess.CompletedProcess:
    """The runner with the URL as --db or as DATABASE_URL."""
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--now", "2025-02-01T00:00:00"]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if via == "--db":
        cmd += ["--db", url]
    else:
        env["DATABASE_URL"] = url
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


@pytest.mark.parametrize("via", ["--db", "DATABASE_URL"])
def test_a_password_with_a_literal_percent_never_appears(percent_password, tmp_path, via):
    cluster, user, password = percent_password
    name = f"pct_{via.strip('-').lower()}"
    cluster.execute("postgres", f"create database {name} owner {user}")

    # written as it is, the % makes the URL invalid: libpq's message quotes the text around it
    for bad in BAD_PASSWORDS:
        done = run_with(cluster.url(name, user, bad), via, tmp_path, SAMPLE)
        assert done.returncode == 3, done.stderr
        assert "cannot connect to postgresql://" in done.stderr
        assert "a literal % is written %25" in done.stderr
        for part in [bad] + [part for part in bad.split("%") if len(part) >= 4]:
            assert part not in done.stdout + done.stderr, part

    # written %25, it connects: and it is not shown either, encoded or not, anywhere
    url = cluster.url(name, user, password.replace("%", "%25"))
    output = tmp_path / f"out_{name}.json"
    done = run_with(url, via, tmp_path, SAMPLE, "--output", output)
    assert done.returncode == 0, done.stderr
    again = run_with(url, via, tmp_path, "--runs")
    loader = Loader(tmp_path, "postgresql", cluster.url(name))
    shown = done.stdout + done.stderr + again.stdout + again.stderr + output.read_text() \
        + repr(loader.rows("select * from run_log"))
    for secret in (password, password.replace("%", "%25"), "ss-w0rd"):
        assert secret not in shown


def test_hide_secrets_hides_the_password_wherever_a_message_quotes_it():
    from loader.postgres_db import hide_secrets
    url = "postgresql://u:Pa%ss-w0rd@host/db?password=an0ther%zz"
    message = hide_secrets('invalid percent-encoded token: "Pa%ss-w0rd"\nan0ther%zz and Pa%ss-w0rd', url)
    assert "Pa%ss" not in message and "an0ther" not in message and "w0rd" not in message
    # a password that is right as written, decoded by libpq: hidden in both forms
    assert hide_secrets("for s3cr%t and s3cr%25t", "postgresql://u:s3cr%25t@h/db") == "for *** and ***"
    assert hide_secrets("no password here", "postgresql://u@h/db") == "no password here"


# 15. A watermark in the future ---------------------------------------------------------

def test_the_repair_of_a_watermark_in_the_future_leads_to_runs_that_work(feed_loader):
    loader = feed_loader
    assert loader.run(loader.sample, now="2025-01-16T00:00:00").code == 0  # run 1: 2025-01-15T12:00:00
    # run 2, on a clock pinned years ahead, loads a record from then (and one from now)
    ahead = loader.batch(loader.line("from-2029", "2029-12-31T00:00:00", "u", 1),
                         loader.line("new", "2025-01-20T00:00:00", "u", 2))
    assert loader.run(ahead, now="2030-01-01T00:00:00").code == 0
    later = loader.batch(loader.line("later", "2025-01-25T00:00:00", "u", 3))
    refused = loader.run(later)
    assert refused.code == 2 and "--repair-watermark" in refused.stderr  # (documented)

    result = loader.run("--repair-watermark")

    assert result.code == 0, result.stderr
    limit = "2025-02-01T00:05:00"  # the run's clock + 5 minutes
    ts = loader.feed.timestamp_column
    query = f"select * from {loader.feed.target} where {ts} > '{limit}' order by {ts}"
    assert json.loads(result.stdout) == {
        "feed": loader.feed.name, "watermark_before": "2029-12-31T00:00:00",
        "watermark": "2025-01-15T12:00:00",  # run 1's: the newest of a successful run not in the future
        "restored_from": "run 1, the last successful run whose watermark is not in the future",
        "future_watermark": "2029-12-31T00:00:00", "future_limit": limit,
        "future_rows": 1, "future_rows_loaded_by_runs": "2", "future_rows_query": query}
    assert (f"watermark for {loader.feed.name} was '2029-12-31T00:00:00', now '2025-01-15T12:00:00' "
            "(from run 1, the last successful run whose watermark is not in the future; "
            f"'2029-12-31T00:00:00' is in the future: later than the run's clock + 5 minutes, {limit}, "
            "and a run on that clock refuses it)") in result.stderr
    assert (f"note: lineage says run 2 loaded 1 record of the feed {loader.feed.name} dated in the future "
            f"(after {limit}); nothing was deleted") in result.stderr
    assert query in result.stderr
    # the query lists the record in the target, which is kept
    listed = loader.rows(query)
    assert len(listed) == 1 and "2029-12-31T00:00:00" in listed[0]
    assert loader.rows("select value from watermark") == [("2025-01-15T12:00:00",)]

    # and the next run works
    done = loader.run(later)
    assert done.code == 0, done.stderr
    assert done.summary["loaded"] == 1 and done.summary["watermark"] == "2025-01-25T00:00:00"
    assert loader.feed.key("later") in loader.events() and loader.feed.key("from-2029") in loader.events()


def test_with_no_successful_run_before_it_lineage_gives_the_newest_record_not_in_the_future(loader):
    ahead = loader.batch(loader.line("from-2029", "2029-12-31T00:00:00", "u", 1),
                         loader.line("now", "2025-01-20T00:00:00", "u", 2),
                         loader.line("from-2031", "2031-01-01T00:00:00", "u", 3))
    assert loader.run(ahead, now="2031-06-01T00:00:00").code == 0

    result = loader.run("--repair-watermark")

    repair = json.loads(result.stdout)
    assert result.code == 0 and repair["watermark"] == "2025-01-20T00:00:00", result.stderr
    assert repair["restored_from"] == "the newest record lineage says was loaded that is not in the future"
    assert repair["future_watermark"] == "2031-01-01T00:00:00"
    assert repair["future_rows"] == 2 and repair["future_rows_loaded_by_runs"] == "1"
    assert "lineage says run 1 loaded 2 records" in result.stderr
    assert loader.run(loader.batch(loader.line("later", "2025-01-25T00:00:00"))).code == 0


def test_with_nothing_loaded_that_is_not_in_the_future_the_watermark_is_removed(loader):
    ahead = loader.batch(loader.line("from-2029", "2029-12-31T00:00:00", "u", 1))
    assert loader.run(ahead, now="2030-01-01T00:00:00").code == 0

    result = loader.run("--repair-watermark")

    repair = json.loads(result.stdout)
    assert result.code == 0 and repair["watermark"] is None, result.stderr
    assert repair["future_watermark"] == "2029-12-31T00:00:00"
    assert repair["restored_from"] == ("nothing (no successful run and no loaded record that is not in the "
                                       "future): the watermark was removed")
    assert loader.rows("select count(*) from watermark") == [(0,)]
    assert loader.run(loader.batch(loader.line("later", "2025-01-25T00:00:00"))).code == 0


def test_a_load_on_a_clock_ahead_of_the_system_clock_warns(loader):
    ahead = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    result = loader.run(loader.sample, now=ahead)
    assert result.code == 0, result.stderr
    # needs the lead's call of report.clock_ahead_line in the load command (item 15)
    assert f"warning: --now {ahead} is ahead of the system clock" in result.stderr
    just_ahead = (datetime.now(timezone.utc) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
    assert "ahead of the system clock" not in loader.run(loader.sample, now=just_ahead).stderr


def test_clock_ahead_line_warns_beyond_5_minutes_only():
    from loader.report import clock_ahead_line
    system = datetime(2025, 2, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert clock_ahead_line("2025-02-01T12:05:00", system) is None
    assert clock_ahead_line("2020-01-01T00:00:00", system) is None
    line = clock_ahead_line("2025-02-01T12:05:01", system)
    assert line.startswith("warning: --now 2025-02-01T12:05:01 is ahead of the system clock "
                           "(2025-02-01T12:00:00 UTC) by more than 5 minutes")
    assert "--repair-watermark" in line
