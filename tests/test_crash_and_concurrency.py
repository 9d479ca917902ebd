"""Killed runs change nothing and are labelled; concurrent runs serialise. For each shipped feed,
on both engines."""

import signal
import subprocess
import sys
import time

import pytest

from bench.generate_batch import write_batch
from conftest import FEEDS, ROOT, SAMPLE

def snapshot(loader) -> dict:
    return {t: loader.table(t) for t in (loader.feed.target, "dead_letter", "lineage", "watermark")}


def start_runner(loader, *args) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db),
           "--now", "2025-03-01T00:00:00", "-q", "--feed", loader.feed.name]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_status(loader, run_id: int, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if loader.rows("select status from run_log where run_id = ?", run_id) == [(status,)]:
                return
        except Exception:
            pass  # the database is being created
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never reached {status}")


def write_feed_batch(path, n: int, seed: int, feed: str, start: str = "2025-01-01T00:00:00") -> None:
    """bench/generate_batch.py's records in the feed's shape; for prices, the events shape's
    records with an op column (a tenth deletions), as prices records."""
    if feed != "prices":
        write_batch(path, n, seed=seed, start=start, feed=feed)
        return
    events = path.with_suffix(".events.csv")
    write_batch(events, n, seed=seed, start=start, deletes=0.1)
    with open(events, encoding="utf-8") as source, open(path, "w", encoding="utf-8") as out:
        next(source)
        out.write("store_id,sku,updated_at,price,op\n")
        for line in source:
            sku, ts, _, price, op = line.rstrip("\n").split(",")
            out.write(f"S{len(sku) % 3},{sku},{ts},{price},{op}\n")
    events.unlink()


@pytest.fixture(scope="module")
def big_batches(tmp_path_factory) -> dict:
    """600,000 records of each shipped feed, written once: a load of them lasts a few seconds."""
    folder = tmp_path_factory.mktemp("batches")
    for feed in FEEDS:
        write_feed_batch(folder / f"{feed}.csv", 600_000, seed=3, feed=feed)
    return {feed: folder / f"{feed}.csv" for feed in FEEDS}


@pytest.mark.parametrize("delay", [0.0, 0.8, 2.0])
def test_sigkill_at_any_moment_leaves_the_database_as_it_was(feed_loader, big_batches, delay):
    loader, big_batch = feed_loader, big_batches[feed_loader.feed.name]
    assert loader.run(loader.sample).code == 0
    before = snapshot(loader)

    runner = start_runner(loader, big_batch)
    wait_for_status(loader, 2, "running")  # past the opening transaction: the load has begun
    time.sleep(delay)
    assert runner.poll() is None, "the run finished before it could be killed: use a bigger batch"
    runner.send_signal(signal.SIGKILL)
    runner.wait()

    assert snapshot(loader) == before
    if loader.engine == "sqlite":
        assert loader.rows("pragma integrity_check") == [("ok",)]
    # the next run labels the dead one, and loads normally
    after = loader.run(loader.batch(loader.line("k", "2025-01-20T00:00:00", "u", 1)))
    assert after.code == 0, after.stderr
    status, error = loader.rows("select status, error from run_log where run_id = 2")[0]
    assert status == "interrupted" and "killed" in error


def test_sigterm_rolls_back_and_is_logged_as_failed(feed_loader, big_batches):
    loader, big_batch = feed_loader, big_batches[feed_loader.feed.name]
    assert loader.run(loader.sample).code == 0
    before = snapshot(loader)
    runner = start_runner(loader, big_batch)
    wait_for_status(loader, 2, "running")
    time.sleep(0.5)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 143
    assert snapshot(loader) == before
    assert loader.rows("select status, error from run_log where run_id = 2") == [
        ("failed", "stopped by a signal; nothing was kept")]


def serial_state(tmp_path, batches, feed) -> dict:
    """The rows a fresh (SQLite) database holds after running the batches one after the other."""
    from conftest import Loader
    serial = Loader(tmp_path, feed=feed)
    for batch in batches:
        result = serial.run(batch, now="2025-03-01T00:00:00")
        assert result.code == 0, result.stderr
    return serial.events()


def test_two_runners_at_once_serialise(feed_loader, tmp_path_factory):
    loader, feed = feed_loader, feed_loader.feed.name
    a, b = loader.tmp / "a.csv", loader.tmp / "b.csv"
    write_feed_batch(a, 30_000, seed=1, feed=feed)                                     # overlapping keys,
    write_feed_batch(b, 30_000, seed=2, start="2025-01-10T00:00:00", feed=feed)         # partly newer

    runners = [start_runner(loader, a), start_runner(loader, b)]
    # (a correctness test: a busy machine's minutes are not a failure; pytest-timeout catches a hang)
    results = [(r.wait(timeout=400), r.stderr.read()) for r in runners]
    assert [code for code, _ in results] == [0, 0], results

    runs = loader.rows("select run_id, source, status, watermark_before from run_log order by run_id")
    assert [r[2] for r in runs] == ["succeeded", "succeeded"]
    # whichever loaded first saw no watermark: that is the order to replay
    first = next(r for r in runs if r[3] is None)[1]
    order = [a, b] if first == str(a) else [b, a]
    assert loader.events() == serial_state(tmp_path_factory.mktemp("serial"), order, loader.feed)
    for run_id in (1, 2):
        summary = dict(zip(("staged", "rejected", "input_records"), loader.rows(
            "select staged, rejected, input_records from run_log where run_id = ?", run_id)[0]))
        assert summary["staged"] + summary["rejected"] == summary["input_records"] == 30_000


def test_a_run_that_cannot_get_the_lock_in_time_refuses(loader):
    assert loader.run(SAMPLE).code == 0
    before = snapshot(loader)
    with loader.holding_the_run_lock():
        started = time.monotonic()
        result = loader.run(loader.batch("k,2025-01-20T00:00:00,u,1"), "--lock-timeout", "1")
        waited = time.monotonic() - started
    assert result.code == 4
    assert "another run is in progress" in result.stderr
    assert 1 <= waited < 20
    assert snapshot(loader) == before


def test_ctrl_c_while_waiting_for_another_run_stops_promptly(loader):
    assert loader.run(SAMPLE).code == 0
    with loader.holding_the_run_lock():
        runner = start_runner(loader, loader.batch("k,2025-01-20T00:00:00,u,1"))
        time.sleep(1.5)  # it is waiting for the lock
        assert runner.poll() is None
        runner.send_signal(signal.SIGINT)
        code = runner.wait(timeout=5)
    assert code == 130
    assert "stopped by Ctrl-C: nothing was changed" in runner.stderr.read()
