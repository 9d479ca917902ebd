"""The command line itself: arguments, stdout/stderr, exit codes at the edges."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLE


@pytest.fixture
def loader(sqlite_loader):
    """Argument handling does not depend on the engine."""
    return sqlite_loader


@pytest.mark.parametrize("args, message", [
    ([], "give an input file"),
    (["--repair-watermark", str(SAMPLE)], "--repair-watermark takes no input files"),
    ([str(SAMPLE), "--lock-timeout", "inf"], "--lock-timeout is a number of seconds"),
    ([str(SAMPLE), "--lock-timeout", "-1"], "--lock-timeout is a number of seconds"),
    ([str(SAMPLE), "--output", "/no/such/dir/out.json"], "the directory does not exist"),
])
def test_bad_arguments_exit_2_before_touching_anything(loader, args, message):
    result = loader.run(*args)
    assert result.code == 2 and message in result.stderr
    assert not loader.db.exists()


@pytest.mark.parametrize("now", ["0500-01-01T00:00:00", "0001-01-01T00:00:00+01:00", "yesterday"])
def test_an_unusable_now_is_refused(loader, now):
    result = loader.run(SAMPLE, now=now)
    assert result.code == 2 and "--now" in result.stderr and "internal error" not in result.stderr


def test_now_with_an_offset_is_converted_to_utc(loader):
    loader.run(SAMPLE, now="2025-02-01T02:00:00+02:00")
    assert loader.rows("select started_at from run_log") == [("2025-02-01T00:00:00",)]


def test_output_that_cannot_be_written_after_the_commit_says_so(loader):
    out_dir = loader.tmp / "out"
    out_dir.mkdir()
    out_dir.chmod(0o555)
    result = loader.run(SAMPLE, "--output", out_dir / "results.json", obey_file_modes=True)
    assert result.code == 5
    assert "succeeded and was committed, but --output" in result.stderr
    assert loader.rows("select status from run_log") == [("succeeded",)]
    assert json.loads(result.stdout)["loaded"] == 5  # stdout still carries the summary


def test_a_reader_that_stops_reading_does_not_turn_success_into_an_error(loader):
    cmd = [sys.executable, str(ROOT / "runner.py"), str(SAMPLE), "--db", str(loader.db), "-q"]
    runner = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runner.stdout.close()  # like "| head -0"
    assert runner.wait(timeout=60) == 0
    assert b"internal error" not in runner.stderr.read()
    assert loader.rows("select status from run_log") == [("succeeded",)]


def test_stdout_is_only_the_json_summary(loader):
    result = loader.run(SAMPLE, "--report")
    assert json.loads(result.stdout)["run_id"] == 1  # the whole of stdout parses
    assert "lineage of run 1" in result.stderr and "lineage of run" not in result.stdout


def test_progress_goes_to_stderr_only(loader):
    result = loader.run(SAMPLE, "--progress")
    assert result.code == 0
    assert "stage 12_record_run.sql" in result.stderr
    assert json.loads(result.stdout)["loaded"] == 5  # stdout is still exactly the summary


def test_no_progress_when_stderr_is_not_a_terminal(loader):
    assert "stage " not in loader.run(SAMPLE).stderr
