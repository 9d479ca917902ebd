"""Late data is noticed: a record the watermark skipped that a longer --lookback would have
loaded is counted (late_skipped, in the summary and run_log), said on stderr with the command
that loads it, and --fail-on-late turns it into exit 6 for schedulers."""

import re
import shlex
import subprocess

from conftest import SAMPLE

LATE = ("late-1,2025-01-10T00:00:00,u,1",    # a new key, twice: one late record,
        "late-1,2025-01-11T00:00:00,u,2",    #   its newer version
        "evt-001,2025-01-15T09:00:00,u,3",   # newer than the stored 08:00: late
        "evt-002,2025-01-01T00:00:00,u,4",   # older than the stored version: not late
        "evt-003,2025-01-01T00:00:00,u,x")   # rejected: not late


def late_batch(loader):
    assert loader.run(SAMPLE).code == 0  # watermark 2025-01-15T12:00:00
    return loader.batch(*LATE)


def test_late_records_are_counted_said_and_loadable_with_the_lookback_given(loader):
    batch = late_batch(loader)
    result = loader.run(batch)
    assert result.code == 0, result.stderr
    s = result.summary
    assert (s["loaded"], s["skipped"], s["rejected"], s["late_skipped"]) == (0, 4, 1, 2)
    assert s["oldest_late"] == "2025-01-11T00:00:00"
    assert loader.rows("select late_skipped, oldest_late from run_log where run_id = ?", s["run_id"]) == [
        (2, "2025-01-11T00:00:00")]
    # one line a person can act on: how many, the oldest, and the complete command
    line = next(line for line in result.stderr.splitlines() if line.startswith("warning: "))
    assert "2 late records skipped" in line and "(the oldest: 2025-01-11T00:00:00)" in line
    command = re.search(r"To load them: (.*)$", line).group(1)
    assert "--lookback 5d" in command and f"--db {shlex.quote(str(loader.db))}" in command
    done = subprocess.run(shlex.split(command) + ["--now", "2025-02-01T00:00:00"], capture_output=True,
                          text=True, cwd=loader.tmp.parent)
    assert done.returncode == 0, done.stderr
    loaded = loader.rows("select event_id, step from lineage where run_id = ? and step in ('loaded', 'skipped') "
                         "order by lineage_id", s["run_id"] + 1)
    assert loaded == [("late-1", "skipped"), ("late-1", "loaded"), ("evt-001", "loaded"), ("evt-002", "skipped")]


def test_a_rerun_and_a_new_batch_have_no_late_records(loader):
    assert loader.run(SAMPLE).summary["late_skipped"] == 0
    rerun = loader.run(SAMPLE)
    assert (rerun.summary["skipped"], rerun.summary["late_skipped"], rerun.summary["oldest_late"]) == (4, 0, None)
    assert "late" not in rerun.stderr
    assert loader.run(SAMPLE, "--fail-on-late").code == 0


def test_fail_on_late_exits_6_after_committing(loader):
    batch = late_batch(loader)
    result = loader.run(batch, "--fail-on-late")
    assert result.code == 6
    assert result.summary["late_skipped"] == 2  # the summary is still on stdout
    assert "2 late records skipped (--fail-on-late); run 2 was committed" in result.stderr
    assert loader.rows("select status, late_skipped from run_log where run_id = 2") == [("succeeded", 2)]


def test_fail_on_late_on_a_dry_run_keeps_nothing(loader):
    batch = late_batch(loader)
    result = loader.run(batch, "--fail-on-late", "--dry-run")
    assert result.code == 6 and "nothing was kept (a dry run)" in result.stderr
    assert loader.rows("select count(*) from run_log") == [(1,)]


def test_an_unwritten_output_file_wins_over_late_records(sqlite_loader):
    # (SQLite only: with the file permissions dropped, the PostgreSQL socket is out of reach too)
    loader = sqlite_loader
    batch = late_batch(loader)
    out_dir = loader.tmp / "out"
    out_dir.mkdir()
    out_dir.chmod(0o555)  # --output cannot be written there, once the run is committed
    result = loader.run(batch, "--fail-on-late", "--output", out_dir / "results.json", obey_file_modes=True)
    assert result.code == 5, result.stderr
    assert result.summary["late_skipped"] == 2


def test_runs_tells_a_late_file_from_a_rerun_and_shows_the_file(loader):
    folder = loader.tmp / ("a-rather-long-folder-name-that-a-real-deployment-might-use" * 2)
    folder.mkdir()
    april = folder / "april.csv"
    april.write_text(late_batch(loader).read_text())
    assert loader.run(SAMPLE).code == 0     # a rerun
    assert loader.run(april).code == 0      # a late file
    lines = loader.run("--runs").stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["run_id", "feed", "kind", "status"]
    rows = {line.split()[0]: dict(zip(header, line.split())) for line in lines[1:]}
    assert (rows["2"]["skipped"], rows["2"]["late_skipped"]) == ("4", "0")
    assert (rows["3"]["skipped"], rows["3"]["late_skipped"]) == ("4", "2")
    # a long path keeps its end: the file name
    assert rows["3"]["source"].startswith("...") and rows["3"]["source"].endswith("/april.csv")


def test_trace_keeps_the_file_name_of_a_long_path(loader):
    folder = loader.tmp / ("another-long-folder-name-of-the-kind-deployments-have" * 2)
    folder.mkdir()
    batch = folder / "day-2025-01-15.csv"
    batch.write_text(SAMPLE.read_text())
    assert loader.run(batch).code == 0
    story = loader.run("--trace", "evt-001").stdout
    assert "/day-2025-01-15.csv" in story and "..." in story
