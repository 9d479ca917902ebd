"""The pipeline against the raw-insert limit measured in the same run, alternately.

    python bench/bench.py                        # 1M records, 3 rounds, SQLite
    python bench/bench.py --records 100000 --rounds 5
    python bench/bench.py --postgres URL         # also PostgreSQL, against COPY into a bare table
    python bench/bench.py --peers                # also sqlite-utils and dlt (requirements-bench.txt)
    python bench/bench.py --baseline ../old      # also another checkout (e.g. the previous release), same rounds
                                                 # (with --postgres: on PostgreSQL too)
    python bench/bench.py --history 6            # 6 batches of random keys, a month apart, into one file
    python bench/bench.py --history 6 --postgres URL   # the same into PostgreSQL (its schema is emptied)
    python bench/bench.py --history 6 --baseline ../old  # loaded by an earlier release, then --upgrade
    python bench/bench.py --history 6 --prune 20d  # then --prune-history: dry run, prune, next batch, --vacuum
    python bench/bench.py --replay --records 100000  # replaying that many open dead letters, against loading them
    python bench/bench.py --feed bench/feeds/events_with_deletes.sql --deletes 0 0.1
                                                 # batches with an op column, 0% and 10% D, in the same rounds
    python bench/bench.py --history 6 --feed bench/feeds/events_with_deletes.sql --deletes 0 0.1
                                                 # two series side by side, batch by batch; each D of a
                                                 # batch deletes a key of an earlier batch

--feed PATH: the feed definition every load runs with (default: the runner's, events);
--baseline gets the same. --deletes F [F ...] gives the batches an op column, F of their records
D (bench/generate_batch.py says which keys they delete: in a single batch, or the first of a
history, keys of the same batch, which are new to the database: only remembered; in a history,
keys of the earlier batches, whose rows they remove), the rest I or U. Several fractions: a batch
(or a history series) each, measured alternately; only single batches and --history on SQLite.

The limit: Python's csv.reader feeding executemany into one bare table of the input's columns
(four, five with op), one transaction, fresh file. Every measurement runs in its own process;
peak memory is that process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from generate_batch import write_batch  # noqa: E402

NOW = "2025-03-01T00:00:00"
# beside this Python, so the peers run from a venv that is not activated
SQLITE_UTILS = str(Path(sys.executable).with_name("sqlite-utils"))

RAW_SQLITE = """
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[2], isolation_level=None)
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = csv.reader(f)
    header = next(rows)
    conn.execute(f"create table raw ({', '.join(name + ' text' for name in header)})")
    conn.execute("begin")
    conn.executemany(f"insert into raw values ({', '.join('?' * len(header))})", rows)
conn.execute("commit")
"""

RAW_POSTGRES = """
import psycopg, sys
with psycopg.connect(sys.argv[2]) as conn:
    conn.execute("drop table if exists raw")
    with open(sys.argv[1], "rb") as f:
        header = f.readline().decode().strip().split(",")
    conn.execute(f"create table raw ({', '.join(name + ' text' for name in header)})")
    with open(sys.argv[1], "rb") as f, conn.cursor().copy("copy raw from stdin (format csv, header true)") as copy:
        while chunk := f.read(1 << 20):
            copy.write(chunk)
"""


def run(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak MiB, stdout) of one process, measured with wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{err.decode()}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def fresh(tmp: Path, name: str) -> Path:
    path = tmp / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


FEED: list[str] = []  # ["--feed", PATH] when --feed is given: every load (and replay) runs with it


def runner(batch: Path, db: str, root: Path = ROOT) -> list[str]:
    return [sys.executable, str(root / "runner.py"), str(batch), *FEED, "--db", db, "--now", NOW, "-q"]


def median_of(samples: list[tuple]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def bench_sqlite(batches: dict[str, Path], tmp: Path, rounds: int, records: int, peers: bool,
                 baseline: Path | None = None) -> dict:
    """batches: label -> batch ('' for the one batch, 'deletes 0.1' ...): each loaded fresh and
    rerun in every round (by the baseline too), in turns; the limit and the peers on the first."""
    first = next(iter(batches.values()))
    limit, samples, timings = [], {}, {}
    peer_runs: dict[str, list] = {"sqlite-utils upsert": [], "dlt merge (duckdb)": []}
    checkouts = [("pipeline", ROOT), *([("baseline", baseline)] if baseline else [])]
    for n in range(rounds):
        limit.append(run([sys.executable, "-c", RAW_SQLITE, str(first), str(fresh(tmp, "raw.db"))]))
        turn = 1 if n % 2 == 0 else -1  # the batches and checkouts take turns going first
        for label, batch in list(batches.items())[::turn]:
            for who, root in checkouts[::turn]:
                name = f"{who}{', ' + label if label else ''}"
                db = str(fresh(tmp, f"{who}.db"))
                loaded = run(runner(batch, db, root))
                samples.setdefault(f"{name}, fresh database", []).append(loaded)
                samples.setdefault(f"{name}, rerun (all skipped)", []).append(run(runner(batch, db, root)))
                timings.setdefault(name, []).append(json.loads(loaded[2])["timings"])
        if peers:
            peer_runs["sqlite-utils upsert"].append(run(
                [SQLITE_UTILS, "upsert", str(fresh(tmp, "su.db")), "events", str(first), "--csv",
                 "--pk", "event_id"]))
            shutil.rmtree(tmp / "dlt", ignore_errors=True)
            peer_runs["dlt merge (duckdb)"].append(run([sys.executable, str(HERE / "dlt_peer.py"), str(first),
                                                        str(tmp / "dlt")]))
    limit_s, limit_mem = median_of(limit)
    result = {"records": records, "limit_s": limit_s, "limit_peak_mib": limit_mem,
              "limit_samples_s": [r[0] for r in limit], "rows": {}}
    for name, runs in [*samples.items(), *(peer_runs.items() if peers else [])]:
        seconds, mem = median_of(runs)
        result["rows"][name] = {"median_s": seconds, "rows_per_s": records / seconds, "ratio": seconds / limit_s,
                                "peak_mib": mem, "samples_s": [r[0] for r in runs]}  # round by round
    # the stages of each checkout and batch on a fresh database
    result["stage_median_s"] = {name: {k: statistics.median(t[k] for t in runs) for k in runs[0]}
                                for name, runs in timings.items()}
    return result


def bench_postgres(batch: Path, url: str, rounds: int, records: int, baseline: Path | None = None) -> dict:
    """COPY, then each checkout in turn: a fresh load into the emptied schema and its rerun, every round."""
    limit, samples = [], {}
    checkouts = [("pipeline", ROOT), *([("baseline", baseline)] if baseline else [])]
    for n in range(rounds):
        limit.append(run([sys.executable, "-c", RAW_POSTGRES, str(batch), url]))
        for who, root in checkouts[::1 if n % 2 == 0 else -1]:
            empty_postgres(url)
            samples.setdefault(f"{who}, fresh database", []).append(run(runner(batch, url, root)))
            samples.setdefault(f"{who}, rerun (all skipped)", []).append(run(runner(batch, url, root)))
    limit_s, limit_mem = median_of(limit)
    result = {"records": records, "limit_s": limit_s, "limit_samples_s": [r[0] for r in limit], "rows": {}}
    for name, runs in samples.items():
        seconds, mem = median_of(runs)
        result["rows"][name] = {"median_s": seconds, "rows_per_s": records / seconds, "ratio": seconds / limit_s,
                                "peak_mib": mem, "samples_s": [r[0] for r in runs]}
    return result


def empty_postgres(url: str) -> None:
    """Everything the loader (or the raw limit) made in the database's schema, gone."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema public cascade")
        conn.execute("create schema public")


def history_batch(tmp: Path, i: int, records: int, seed: int, deletes: float | None = None) -> Path:
    """The i-th batch (from 0) of the series: random keys, a month after the one before; with
    deletes, that fraction of its records delete keys of the batches before it."""
    batch = tmp / f"history-{i + 1}.csv"
    write_batch(batch, records, seed=seed + i, start=history_clock(i - 1), random_keys=True, deletes=deletes,
                earlier_seeds=tuple(seed + j for j in range(i)))
    return batch


def history_clock(i: int) -> str:
    """The clock of the run that loads the i-th batch: the day after its month of records."""
    return (datetime(2025, 1, 1) + timedelta(days=31 * (i + 1))).strftime("%Y-%m-%dT%H:%M:%S")


def database_bytes(db: str) -> int | None:
    """A SQLite file's size with its -wal; a PostgreSQL database's size."""
    if "://" in db:
        import psycopg
        with psycopg.connect(db) as conn:
            return conn.execute("select pg_database_size(current_database())").fetchone()[0]
    return sum(Path(db + suffix).stat().st_size for suffix in ("", "-wal") if Path(db + suffix).exists())


def bench_history(tmp: Path, batches: int, records: int, seed: int, db: str | None = None,
                  root: Path = ROOT, fractions: list[float | None] = (None,)) -> list[dict]:
    """Consecutive batches of random keys, each a month later, loaded into one database (a
    SQLite file, or PostgreSQL at db): how each batch's time and the database's size grow
    with the history it already holds. Each batch's limit is measured just before it.
    fractions: a series for each (--deletes), in files of their own, alternately batch by batch."""
    postgres = db is not None and "://" in db
    if postgres:
        empty_postgres(db)
    series = [{"records": records, "engine": "postgresql" if postgres else "sqlite", "deletes": f,
               "db": db or str(fresh(tmp, f"history-{n}.db")), "input_bytes": 0, "batches": []}
              for n, f in enumerate(fractions)]
    for i in range(batches):
        for one in series:
            db, rows = one["db"], one["batches"]
            batch = history_batch(tmp, i, records, seed, one["deletes"])
            one["input_bytes"] += batch.stat().st_size
            limit = run([sys.executable, "-c", RAW_POSTGRES, str(batch), db] if postgres else
                        [sys.executable, "-c", RAW_SQLITE, str(batch), str(fresh(tmp, "raw.db"))])[0]
            if postgres:  # the limit's table, in the same database
                import psycopg
                with psycopg.connect(db, autocommit=True) as conn:
                    conn.execute("drop table raw")
            seconds, peak, out = run([*runner(batch, db, root)[:-3], "--now", history_clock(i), "-q"])
            size, summary = database_bytes(db), json.loads(out)
            rows.append({"batch": i + 1, "seconds": seconds, "limit_s": limit, "ratio": seconds / limit,
                         "peak_mib": peak, "db_mib": size / 2**20, "input_mib": one["input_bytes"] / 2**20,
                         "size_ratio": size / one["input_bytes"], "timings": summary.get("timings"),
                         "outcomes": {k: summary.get(k) for k in ("loaded", "inserted", "updated", "deleted",
                                                                  "stale", "superseded", "rejected")}})
            batch.unlink()
            label = "" if one["deletes"] is None else f"deletes {one['deletes']:g}, "
            print(f"{label}batch {i + 1}: {seconds:.2f} s, {seconds / limit:.1f}x its limit ({limit:.2f} s), "
                  f"database {size / 2**20:.0f} MiB = {size / one['input_bytes']:.2f}x the input so far",
                  file=sys.stderr)
    return series


def bench_upgrade(tmp: Path, batches: int, records: int, seed: int, baseline: Path,
                  deletes: float | None = None) -> dict:
    """The series loaded by another checkout (an earlier release), then upgraded in place by
    this one: how long --upgrade takes on that history, and the next batch after it."""
    old = bench_history(tmp, batches, records, seed, str(fresh(tmp, "upgrade.db")), baseline, [deletes])[0]
    db = old["db"]
    seconds, peak, out = run([sys.executable, str(ROOT / "runner.py"), "--upgrade", "--db", db])
    batch = history_batch(tmp, batches, records, seed, deletes)
    next_s, next_peak, _ = run([*runner(batch, db)[:-3], "--now", history_clock(batches), "-q"])
    batch.unlink()
    return {"baseline": str(baseline), "history": old, "upgrade_s": seconds, "upgrade_peak_mib": peak,
            "upgrade": json.loads(out), "next_batch_s": next_s, "db_mib_after": database_bytes(db) / 2**20}


def bench_prune(tmp: Path, history: dict, age: str, seed: int) -> dict:
    """On the history just loaded: --prune-history AGE as a dry run, then for real; the next
    batch after it (does it reuse the freed space?); then --vacuum. Times and sizes."""
    db, batches, records = history["db"], len(history["batches"]), history["records"]
    prune = [sys.executable, str(ROOT / "runner.py"), "--prune-history", age, "--db", db,
             "--now", history_clock(batches - 1), "-q"]
    steps = {}
    for name, extra in (("dry run", ["--dry-run"]), ("prune", [])):
        seconds, peak, out = run(prune + extra)
        steps[name] = {"seconds": seconds, "peak_mib": peak, "result": json.loads(out), "db_bytes": database_bytes(db)}
    batch = history_batch(tmp, batches, records, seed, history["deletes"])
    seconds, peak, _ = run([*runner(batch, db)[:-3], "--now", history_clock(batches), "-q"])
    batch.unlink()
    steps["next batch"] = {"seconds": seconds, "peak_mib": peak, "db_bytes": database_bytes(db)}
    seconds, peak, out = run(prune + ["--vacuum"])  # the same clock: it prunes nothing more
    steps["--vacuum"] = {"seconds": seconds, "peak_mib": peak, "result": json.loads(out),
                         "db_bytes": database_bytes(db)}
    return {"age": age, "before_mib": history["batches"][-1]["db_mib"], "steps": steps}


def prune_table(result: dict) -> None:
    print(f"--prune-history {result['age']} on that history ({result['before_mib']:.0f} MiB)")
    print(f"{'step':>10} {'s':>7} {'peak MiB':>9} {'db MiB':>8} {'reusable MiB':>13}  what")
    for name, step in result["steps"].items():
        r = step.get("result", {})
        reusable = r.get("reusable_bytes_after")
        what = (f"{r['runs_pruned']} runs, {r['lineage_entries_removed']:,} entries, "
                f"{r['dead_letters_removed']:,} dead letters" if r else "")
        print(f"{name:>10} {step['seconds']:7.2f} {step['peak_mib']:9.1f} {step['db_bytes'] / 2**20:8.0f} "
              f"{'' if reusable is None else f'{reusable / 2**20:.0f}':>13}  {what}")


def bench_replay(tmp: Path, records: int, seed: int, root: Path = ROOT, deletes: float | None = None) -> dict:
    """N open dead letters replayed, against loading the same N records from their file. The
    batch is loaded at a clock before its records, so all but the broken ones are rejected as
    in the future; the replay, at a later clock, loads them."""
    batch = tmp / f"replay-{records}.csv"
    write_batch(batch, records, seed=seed, random_keys=True, deletes=deletes)
    db = str(fresh(tmp, "replay.db"))
    run([*runner(batch, db, root)[:-3], "--now", "2024-01-01T00:00:00", "-q"])
    seconds, peak, out = run([sys.executable, str(root / "runner.py"), "--replay-dead-letters", *FEED, "--db", db,
                              "--now", "2026-01-01T00:00:00", "-q"])
    replay = json.loads(out)
    fresh_s, fresh_peak, _ = run([*runner(batch, str(fresh(tmp, "fresh.db")), root)[:-3],
                                  "--now", "2026-01-01T00:00:00", "-q"])
    batch.unlink()
    return {"records": records, "root": str(root), "replay_s": seconds, "replay_peak_mib": peak,
            "replayed": replay["input_records"], "loaded": replay["loaded"], "load_s": fresh_s,
            "load_peak_mib": fresh_peak, "ratio": seconds / fresh_s}


def history_table(result: dict, batches: int, records: int) -> None:
    rows = result["batches"]
    where = "one PostgreSQL database" if result["engine"] == "postgresql" else "one SQLite file"
    deletes = "" if result["deletes"] is None else f", {result['deletes']:.0%} of them deletions,"
    print(f"history: {batches} batches of {records:,} random keys{deletes} into {where}")
    print(f"{'batch':>5} {'s':>7} {'x limit':>8} {'x batch 1':>9} {'db MiB':>8} {'x input':>8} {'peak MiB':>9}")
    for r in rows:
        print(f"{r['batch']:>5} {r['seconds']:7.2f} {r['ratio']:8.2f} {r['seconds'] / rows[0]['seconds']:9.2f} "
              f"{r['db_mib']:8.0f} {r['size_ratio']:8.2f} {r['peak_mib']:9.1f}")


def table(title: str, result: dict) -> str:
    width = max(32, *map(len, result["rows"]))
    lines = [f"{title}: {result['records']:,} records; limit {result['limit_s']:.2f} s",
             f"{'':{width}} {'median s':>9} {'rows/s':>10} {'x limit':>8} {'peak MiB':>9}"]
    for name, r in result["rows"].items():
        lines.append(f"{name:{width}} {r['median_s']:9.2f} {r['rows_per_s']:10,.0f} {r['ratio']:8.2f} {r['peak_mib']:9.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="also measure PostgreSQL at this URL (its tables are dropped)")
    parser.add_argument("--peers", action="store_true", help="also measure sqlite-utils and dlt")
    parser.add_argument("--baseline", metavar="DIR", type=Path,
                        help="also measure the runner.py of another checkout (e.g. the previous release)")
    parser.add_argument("--history", metavar="N", type=int,
                        help="instead: N batches of --records random keys, a month apart, into one database "
                             "(SQLite, or --postgres URL; with --baseline DIR: loaded by DIR, then upgraded)")
    parser.add_argument("--prune", metavar="AGE",
                        help="with --history: then measure --prune-history AGE on it (20d keeps the last batch)")
    parser.add_argument("--replay", action="store_true",
                        help="instead: replay --records open dead letters, against loading them (with --baseline: "
                             "also by that checkout)")
    parser.add_argument("--feed", metavar="PATH", type=Path,
                        help="the feed definition every load runs with (default: the runner's, events), "
                             "e.g. bench/feeds/events_with_deletes.sql")
    parser.add_argument("--deletes", metavar="FRACTION", type=float, nargs="+",
                        help="batches with an op column, this fraction of records D (a deletion); several "
                             "fractions: a batch or history series each, measured alternately")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    if args.feed:
        FEED.extend(["--feed", str(args.feed.resolve())])
    fractions = args.deletes or [None]
    if len(fractions) > 1 and (args.replay or args.postgres or args.prune or (args.history and args.baseline)):
        parser.error("several --deletes fractions: only for single batches and --history, on SQLite")

    tmp = Path(tempfile.mkdtemp(prefix="loader-bench-"))
    if args.replay:
        results = {"replay": [bench_replay(tmp, args.records, args.seed, root, fractions[0])
                              for root in [ROOT] + ([args.baseline.resolve()] if args.baseline else [])]}
        print(f"{'checkout':40} {'open dead letters':>17} {'replay s':>9} {'peak MiB':>9} {'load s':>7} "
              f"{'peak MiB':>9} {'x load':>7}")
        for r in results["replay"]:
            print(f"{r['root'][-40:]:40} {r['replayed']:>17,} {r['replay_s']:9.2f} {r['replay_peak_mib']:9.1f} "
                  f"{r['load_s']:7.2f} {r['load_peak_mib']:9.1f} {r['ratio']:7.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.history:
        if args.baseline:
            results = {"upgrade": bench_upgrade(tmp, args.history, args.records, args.seed, args.baseline,
                                                fractions[0])}
            up = results["upgrade"]
            print(f"history of {args.history} batches of {args.records:,} random keys loaded by {args.baseline}, "
                  f"{up['history']['batches'][-1]['db_mib']:.0f} MiB: --upgrade {up['upgrade_s']:.2f} s "
                  f"({up['upgrade']}), peak {up['upgrade_peak_mib']:.0f} MiB; the next batch {up['next_batch_s']:.2f} s; "
                  f"{up['db_mib_after']:.0f} MiB after it")
        else:
            results = {"history": bench_history(tmp, args.history, args.records, args.seed, args.postgres,
                                                fractions=fractions)}
            for series in results["history"]:
                history_table(series, args.history, args.records)
            if args.prune:
                results["prune"] = bench_prune(tmp, results["history"][0], args.prune, args.seed)
                prune_table(results["prune"])
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        shutil.rmtree(tmp, ignore_errors=True)
        return
    batches = {}
    for n, f in enumerate(fractions):
        batches["" if f is None else f"deletes {f:g}"] = batch = tmp / f"batch-{args.records}-{args.seed}-{n}.csv"
        write_batch(batch, args.records, seed=args.seed, deletes=f)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}", file=sys.stderr)
    results = {"sqlite": bench_sqlite(batches, tmp, args.rounds, args.records, args.peers, args.baseline)}
    print(table("SQLite", results["sqlite"]))
    for name, stages in results["sqlite"]["stage_median_s"].items():
        print(f"stage medians, {name} (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    if args.postgres:
        results["postgresql"] = bench_postgres(batch, args.postgres, args.rounds, args.records, args.baseline)
        print(table("PostgreSQL", results["postgresql"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
