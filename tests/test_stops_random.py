"""Real signals at random moments of loads and prunes: whatever the moment (reading, a stage,
COMMIT, after it), the exit code, stderr and stdout agree with what the database holds.
120 signals per engine, several runners at a time, each on a copy of one database."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor


from bench.generate_batch import write_batch
from conftest import ROOT, SAMPLE, Loader

SIGNALS = 90
AT_ONCE = 4
NOW = "2025-03-01T00:00:00"


class Copies:
    """Copies of one prepared database, one per trial."""

    def __init__(self, loader: Loader, request):
        self.loader, self.request = loader, request

    def new(self) -> Loader:
        base = self.loader
        if base.engine == "sqlite":
            copy = Loader(base.tmp, db=base.tmp / f"copy_{uuid.uuid4().hex[:8]}.db")
            shutil.copy(base.db, copy.db)
            return copy
        cluster = self.request.getfixturevalue("postgres")
        name = f"c_{uuid.uuid4().hex[:12]}"
        cluster.execute("postgres", f"create database {name} template {str(base.db).split('@/')[1].split('?')[0]}")
        return Loader(base.tmp, "postgresql", cluster.url(name))


def facts(loader: Loader) -> dict:
    return {"events": loader.rows("select count(*), max(event_ts) from events")[0],
            "watermark": loader.rows("select value from watermark"),
            "lineage": loader.rows("select count(*) from lineage")[0][0],
            "dead_letter": loader.rows("select count(*) from dead_letter")[0][0],
            "runs": loader.rows("select run_id, status from run_log order by run_id"),
            "pruned": loader.rows("select count(*) from run_log where pruned_at is not null")[0][0]}


def start(loader: Loader, args: list) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "runner.py"), *map(str, args), "--db", str(loader.db), "--now", NOW]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=loader.tmp)


def test_signals_at_random_moments_are_reported_as_what_happened(loader, request, tmp_path):
    batch = tmp_path / "batch.csv"
    write_batch(batch, 1500, seed=11, start="2025-01-20T00:00:00")
    assert loader.run(SAMPLE, now="2025-01-01T00:00:00").code == 0
    assert loader.run(loader.batch("late-1,2025-01-10T00:00:00,u,1"), now="2025-01-02T00:00:00").code == 0
    copies = Copies(loader, request)
    if loader.engine == "postgresql":  # a template must have no other session
        time.sleep(0.2)

    # what each command does when nothing stops it, and how long it takes as the trials run
    # (as many at a time)
    before = facts(loader)
    outcomes = {}

    def unstopped(args):
        reference = copies.new()
        started = time.monotonic()
        done = start(reference, args)
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err
        return facts(reference), time.monotonic() - started

    for kind, args in (("load", [batch]), ("prune", ["--prune-history", "30d"])):
        with ThreadPoolExecutor(AT_ONCE) as pool:
            references = list(pool.map(lambda _: unstopped(args), range(AT_ONCE)))
        assert all(after == references[0][0] for after, _ in references)
        outcomes[kind] = (references[0][0], max(seconds for _, seconds in references))
    assert outcomes["load"][0] != before and outcomes["prune"][0] != before

    rng = random.Random(20261203)
    trials = [(rng.choice(["load", "load", "prune"]), rng.choice([signal.SIGTERM, signal.SIGINT]), rng.random())
              for _ in range(SIGNALS)]

    def trial(kind, stop, fraction):
        copy = copies.new()
        done = start(copy, [batch] if kind == "load" else ["--prune-history", "30d"])
        time.sleep(fraction * outcomes[kind][1] * 1.1)
        done.send_signal(stop)
        out, err = done.communicate(timeout=120)
        return kind, stop, done.returncode, out, err, facts(copy)

    problems, seen = [], {}
    with ThreadPoolExecutor(AT_ONCE) as pool:
        for kind, stop, code, out, err, now in pool.map(lambda t: trial(*t), trials):
            expected_after = outcomes[kind][0]
            stopped = 143 if stop == signal.SIGTERM else 130
            if code == 0:
                kept_ok = now == expected_after and json.loads(out)
                said_ok = "stopped by" not in err or "was committed" in err
                verdict = "kept" if "stopped by" in err else "finished"
                ok = kept_ok and said_ok and "rolled back" not in err
            elif code == stopped:
                ok = out == "" and "stopped by" in err and "was committed" not in err
                if "logged as failed" in err:  # the run is on record, failed; the data as before
                    failed_run = (len(before["runs"]) + 1, "failed")
                    ok = ok and now == {**before, "runs": before["runs"] + [failed_run]}
                    verdict = "rolled back (run on record)"
                else:
                    ok = ok and now == before
                    verdict = "nothing changed"
            elif code == -stop or (code == 1 and err.rstrip().endswith("KeyboardInterrupt")
                                   and "runner.py" not in err):
                # before the interpreter reached runner.py's first line, the signal's own default
                ok, verdict = out == "" and now == before, "before the runner started"
            else:
                ok, verdict = False, f"exit {code}"
            seen[(kind, verdict)] = seen.get((kind, verdict), 0) + 1
            if not ok:
                problems.append((kind, stop, code, err.strip()[-300:], now))
    assert not problems, problems[:3]
    # the moments were spread: both commands were stopped before and after their commit
    print(seen)
    assert seen.get(("load", "rolled back (run on record)")) and seen.get(("prune", "nothing changed"))
    assert seen.get(("load", "finished"), 0) + seen.get(("load", "kept"), 0)
