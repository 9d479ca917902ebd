"""What version history costs: the events feed with 'on' as history against the plain events feed,
on the same batches of random keys, in the same run, alternately.

    python bench/version_history.py                      # 1M records, 3 rounds, 6 history batches
    python bench/version_history.py --rounds 1 --records 100000
    python bench/version_history.py --repeat 0.1         # history batches 2..6: 10% of records a key of an earlier batch
    python bench/version_history.py --statements         # then each statement of the 6th batch, timed (statement_timings.py)
    python bench/version_history.py --sql-dir /tmp/sql   # every load with runner.py --sql-dir (a changed copy of sql/)

The two feeds: bench/feeds/events_with_history.sql (history = 'on': events_with_history_history,
received_version, the history section) and sql/feeds/events.sql (the runner's default).

(a) fresh: the first history batch (1M random keys, as bench.py --history makes it) into a fresh
    SQLite file, by each feed in turns, round by round; the ratio of the medians.
(b) history: --batches batches of random keys a month apart (bench.py's history_batch and
    history_clock: within a batch ~20% of records repeat a key; bench.py's keys never repeat across
    batches, --repeat F makes F of each later batch's records carry a key of an earlier batch, as a
    deletion does in bench.py --deletes) into one file per feed, the two feeds alternately batch by
    batch (which goes first alternates too); each batch's time for both, the ratio.
(c) after the last batch (of the last round): rows and bytes (dbstat) of the history table,
    received_version, the target and lineage, and both files' sizes; the step timings (the summary's
    `timings`) of the last batch.
--statements: the last batch loaded again, on copies of both files as they were before it, under
bench/statement_timings.py: each statement's seconds.

Every load is its own process (bench.py's run: wall time and peak RSS). The machine may be shared:
compare only ratios measured in the same run. The table goes to stdout, the JSON to
bench/results/version_history-<date>[-repeatF].json (or --json PATH).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import RAW_SQLITE, ROOT, database_bytes, fresh, history_batch, history_clock, run  # noqa: E402

FEEDS = {
    "history": ROOT / "bench" / "feeds" / "events_with_history.sql",
    "plain": ROOT / "sql" / "feeds" / "events.sql",
}
HISTORY_STEP = "feeds/events_with_history.sql: history"
SQL_DIR: list[str] = []  # ["--sql-dir", DIR] when --sql-dir is given: every load runs with it


def load(batch: Path, db: Path, feed: str, now: str) -> dict:
    seconds, peak, out = run([sys.executable, str(ROOT / "runner.py"), str(batch), "--feed", str(FEEDS[feed]),
                              "--db", str(db), "--now", now, "-q", *SQL_DIR])
    summary = json.loads(out)
    return {"seconds": seconds, "peak_mib": peak, "timings": summary["timings"],
            "counts": {k: summary.get(k) for k in ("loaded", "inserted", "updated", "stale", "superseded",
                                                   "rejected", "history_opened", "history_split",
                                                   "history_closed")}}


def make_batch(tmp: Path, i: int, records: int, seed: int, repeat: float) -> Path:
    """bench.py's i-th history batch; with repeat, that fraction of its records (batches after the
    first) carries a random key of an earlier batch instead (its timestamp is this batch's month:
    a newer version of that key)."""
    batch = history_batch(tmp, i, records, seed)
    if not repeat or i == 0:
        return batch
    rng = random.Random(f"{seed + i}:repeat")
    distinct = int(records * 0.8)
    earlier = [seed + j for j in range(i)]
    out = batch.with_suffix(".repeat.csv")
    with open(batch, encoding="utf-8", newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        dst.write(next(src))
        for line in src:
            if rng.random() < repeat:
                key = hashlib.md5(f"{rng.choice(earlier)}:{rng.randrange(distinct)}".encode()).hexdigest()
                line = key + line[line.index(","):]
            dst.write(line)
    out.replace(batch)
    return batch


def copy_db(db: Path, to: Path) -> Path:
    for suffix in ("", "-wal"):
        if Path(str(db) + suffix).exists():
            shutil.copyfile(str(db) + suffix, str(to) + suffix)
    return to


def table_sizes(db: Path) -> dict:
    """Rows and bytes (dbstat) of the tables and indexes that matter, and every object's bytes."""
    conn = sqlite3.connect(db)
    bytes_by_name = dict(conn.execute("select name, sum(pgsize) from dbstat group by name"))
    names = {name: tbl for name, tbl in conn.execute("select name, tbl_name from sqlite_schema "
                                                      "where type in ('table', 'index')")}
    by_table: dict[str, int] = {}
    for name, size in bytes_by_name.items():  # a table with its indexes
        by_table[names.get(name, name)] = by_table.get(names.get(name, name), 0) + size
    rows = {}
    for table in ("events_with_history_history", "received_version", "events_with_history", "events",
                  "lineage_record"):
        if table in names:
            rows[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
    page_size, pages, free = (conn.execute(f"pragma {p}").fetchone()[0]
                              for p in ("page_size", "page_count", "freelist_count"))
    conn.close()
    return {"file_bytes": database_bytes(str(db)), "page_size": page_size, "pages": pages, "free_pages": free,
            "rows": rows, "table_bytes": dict(sorted(by_table.items(), key=lambda kv: -kv[1])),
            "object_bytes": dict(sorted(bytes_by_name.items(), key=lambda kv: -kv[1]))}


def statement_timings(batch: Path, db: Path, feed: str, now: str, out: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / "statement_timings.py"), str(batch), "--feed",
                           str(FEEDS[feed]), "--db", str(db), "--now", now, "-q", *SQL_DIR],
                          env={**os.environ, "STATEMENT_TIMINGS": str(out)}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"statement_timings.py failed:\n{proc.stderr}")
    return {"seconds": time.perf_counter() - started, "timings": json.loads(proc.stdout)["timings"],
            "statements": json.loads(out.read_text())}


def fingerprint(sql_dir: Path) -> dict:
    """What code was measured: the working tree changes under a benchmark; sha256 (12) of the
    version history's files, and git's HEAD."""
    files = sorted((sql_dir / "run").glob("version_history_*.sql")) + [
        ROOT / "loader" / "version_history.py", ROOT / "loader" / "feed.py", ROOT / "loader" / "plan.py",
        FEEDS["history"]]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {"head": head.stdout.strip(), "sql_dir": str(sql_dir),
            **{str(f): hashlib.sha256(f.read_bytes()).hexdigest()[:12] for f in files if f.exists()}}


def median(values):
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=float, default=0.0, metavar="F",
                        help="history batches after the first: F of their records carry a key of an earlier batch")
    parser.add_argument("--skip-fresh", action="store_true", help="only (b) and (c)")
    parser.add_argument("--statements", action="store_true",
                        help="then the last batch again under statement_timings.py, on copies made before it")
    parser.add_argument("--sql-dir", metavar="DIR", type=Path,
                        help="every load (both feeds) runs with runner.py --sql-dir DIR (e.g. a copy of sql/ with a change)")
    parser.add_argument("--json", metavar="PATH", type=Path)
    args = parser.parse_args()
    if args.sql_dir:
        SQL_DIR.extend(["--sql-dir", str(args.sql_dir.resolve())])
    sql_dir = args.sql_dir.resolve() if args.sql_dir else ROOT / "sql"
    suffix = f"-repeat{args.repeat:g}" if args.repeat else ""
    out_json = args.json or HERE / "results" / f"version_history-{date.today().isoformat()}{suffix}.json"
    tmp = Path(tempfile.mkdtemp(prefix="version-history-"))
    machine = {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
               "sqlite": sqlite3.sqlite_version, "loadavg_start": os.getloadavg()}
    code_before = fingerprint(sql_dir)
    print(f"machine: {machine}; tmp {tmp}", file=sys.stderr)
    started = time.perf_counter()

    batches = []
    for i in range(args.batches):
        batches.append(make_batch(tmp, i, args.records, args.seed, args.repeat))
        print(f"batch {i + 1} written ({batches[-1].stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)

    result: dict = {"records": args.records, "rounds": args.rounds, "batches": args.batches, "seed": args.seed,
                    "repeat": args.repeat, "feeds": {k: str(v.relative_to(ROOT)) for k, v in FEEDS.items()},
                    "machine": machine}

    # (a) fresh
    if not args.skip_fresh:
        fresh_runs: dict[str, list] = {"history": [], "plain": []}
        limits = []
        for n in range(args.rounds):
            limits.append(run([sys.executable, "-c", RAW_SQLITE, str(batches[0]), str(fresh(tmp, "raw.db"))])[0])
            for feed in (["history", "plain"] if n % 2 == 0 else ["plain", "history"]):
                db = fresh(tmp, f"fresh-{feed}.db")
                fresh_runs[feed].append(load(batches[0], db, feed, history_clock(0)))
                print(f"round {n + 1} fresh {feed}: {fresh_runs[feed][-1]['seconds']:.2f} s", file=sys.stderr)
                fresh(tmp, f"fresh-{feed}.db")
        h, p = ([r["seconds"] for r in fresh_runs[f]] for f in ("history", "plain"))
        result["fresh"] = {
            "limit_samples_s": limits, "limit_s": median(limits),
            "history_samples_s": h, "plain_samples_s": p, "history_s": median(h), "plain_s": median(p),
            "ratio": median(h) / median(p), "ratios_by_round": [a / b for a, b in zip(h, p)],
            "peak_mib": {f: max(r["peak_mib"] for r in fresh_runs[f]) for f in fresh_runs},
            "history_step_s": median([r["timings"][HISTORY_STEP] for r in fresh_runs["history"]]),
            "stage_median_s": {f: {k: median([r["timings"].get(k, 0) for r in fresh_runs[f]])
                                   for k in fresh_runs[f][0]["timings"]} for f in fresh_runs},
            "counts": {f: fresh_runs[f][0]["counts"] for f in fresh_runs}}

    # (b) history series, (c) sizes
    series: dict[str, list[list[dict]]] = {"history": [], "plain": []}  # [round][batch]
    before_last: dict[str, Path] = {}
    sizes_by_batch: dict[str, list] = {"history": [], "plain": []}
    for n in range(args.rounds):
        dbs = {feed: fresh(tmp, f"series-{feed}.db") for feed in series}
        for feed in series:
            series[feed].append([])
        last_round = n == args.rounds - 1
        for i, batch in enumerate(batches):
            if last_round and args.statements and i == len(batches) - 1:
                for feed, db in dbs.items():
                    before_last[feed] = copy_db(db, tmp / f"before-last-{feed}.db")
            for feed in (["history", "plain"] if (n + i) % 2 == 0 else ["plain", "history"]):
                r = load(batch, dbs[feed], feed, history_clock(i))
                r["db_bytes"] = database_bytes(str(dbs[feed]))
                series[feed][n].append(r)
                print(f"round {n + 1} batch {i + 1} {feed}: {r['seconds']:.2f} s, "
                      f"history step {r['timings'].get(HISTORY_STEP, 0):.2f} s, "
                      f"{r['db_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
        if last_round:
            result["sizes"] = {feed: table_sizes(db) for feed, db in dbs.items()}
        for feed, db in dbs.items():
            if not last_round:
                fresh(tmp, db.name)
    per_batch = []
    for i in range(args.batches):
        h = [series["history"][n][i]["seconds"] for n in range(args.rounds)]
        p = [series["plain"][n][i]["seconds"] for n in range(args.rounds)]
        hs = [series["history"][n][i]["timings"][HISTORY_STEP] for n in range(args.rounds)]
        per_batch.append({
            "batch": i + 1, "history_samples_s": h, "plain_samples_s": p, "history_s": median(h),
            "plain_s": median(p), "ratio": median(h) / median(p), "ratios_by_round": [a / b for a, b in zip(h, p)],
            "history_step_s": median(hs),
            "history_db_mib": series["history"][-1][i]["db_bytes"] / 2**20,
            "plain_db_mib": series["plain"][-1][i]["db_bytes"] / 2**20,
            "peak_mib": {f: max(series[f][n][i]["peak_mib"] for n in range(args.rounds)) for f in series},
            "counts": {f: series[f][-1][i]["counts"] for f in series},
            "stage_median_s": {f: {k: median([series[f][n][i]["timings"].get(k, 0) for n in range(args.rounds)])
                                   for k in series[f][0][i]["timings"]} for f in series}})
    result["history"] = per_batch

    if args.statements:
        last = len(batches) - 1
        result["statements"] = {}
        for feed in ("history", "plain"):
            result["statements"][feed] = statement_timings(batches[last], before_last[feed], feed,
                                                           history_clock(last), tmp / f"statements-{feed}.json")
            print(f"statement timings, {feed}: {result['statements'][feed]['seconds']:.2f} s", file=sys.stderr)

    result["code"] = code_before
    if fingerprint(sql_dir) != code_before:
        result["code_changed_during_run"] = fingerprint(sql_dir)
        print("warning: the version history's code changed during the run (see code_changed_during_run)",
              file=sys.stderr)
    result["elapsed_s"] = time.perf_counter() - started
    result["machine"]["loadavg_end"] = os.getloadavg()
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2))
    report(result)
    print(f"\nJSON: {out_json}")
    shutil.rmtree(tmp, ignore_errors=True)


def report(result: dict) -> None:
    mib = 2**20
    records, rounds = result["records"], result["rounds"]
    print(f"version history: events_with_history (history = 'on') against events, {records:,} random keys, "
          f"medians of {rounds} round(s); repeat across batches {result['repeat']:g}; sql {result['code']['sql_dir']}"
          + ("; THE CODE CHANGED DURING THE RUN" if "code_changed_during_run" in result else ""))
    if "fresh" in result:
        f = result["fresh"]
        print(f"\n(a) fresh database (raw limit {f['limit_s']:.2f} s)")
        print(f"{'feed':10} {'s':>8} {'x limit':>8} {'peak MiB':>9}  samples")
        for feed in ("plain", "history"):
            print(f"{feed:10} {f[feed + '_s']:8.2f} {f[feed + '_s'] / f['limit_s']:8.2f} {f['peak_mib'][feed]:9.1f}  "
                  + ", ".join(f"{s:.2f}" for s in f[feed + "_samples_s"]))
        print(f"ratio history/plain: {f['ratio']:.3f} (by round: "
              + ", ".join(f"{r:.2f}" for r in f["ratios_by_round"]) + f"); history step {f['history_step_s']:.2f} s")
    print(f"\n(b) {result['batches']} batches a month apart, one file per feed")
    print(f"{'batch':>5} {'plain s':>8} {'history s':>10} {'ratio':>6} {'hist step s':>11} "
          f"{'plain MiB':>10} {'history MiB':>12} {'opened':>9} {'split':>7}")
    for b in result["history"]:
        c = b["counts"]["history"]
        print(f"{b['batch']:5} {b['plain_s']:8.2f} {b['history_s']:10.2f} {b['ratio']:6.2f} {b['history_step_s']:11.2f} "
              f"{b['plain_db_mib']:10.0f} {b['history_db_mib']:12.0f} {c['history_opened'] or 0:9,} "
              f"{c['history_split'] or 0:7,}")
    last = result["history"][-1]
    print(f"batch {last['batch']}: history/plain {last['ratio']:.3f} (by round: "
          + ", ".join(f"{r:.2f}" for r in last["ratios_by_round"]) + ")")
    s = result["sizes"]
    print(f"\n(c) after batch {last['batch']}: files {s['plain']['file_bytes'] / mib:,.0f} MiB (plain), "
          f"{s['history']['file_bytes'] / mib:,.0f} MiB (history), x{s['history']['file_bytes'] / s['plain']['file_bytes']:.2f}")
    print(f"{'table (with its indexes)':32} {'rows':>12} {'MiB':>9} {'bytes/row':>10}")
    h = s["history"]
    for table in ("events_with_history_history", "received_version", "events_with_history", "lineage_record"):
        rows, size = h["rows"].get(table), h["table_bytes"].get(table, 0)
        print(f"{table:32} {rows or 0:12,} {size / mib:9.1f} {size / rows if rows else 0:10.1f}")
    for table in ("events", "lineage_record"):
        rows, size = s["plain"]["rows"].get(table), s["plain"]["table_bytes"].get(table, 0)
        print(f"{'plain: ' + table:32} {rows or 0:12,} {size / mib:9.1f} {size / rows if rows else 0:10.1f}")
    print("objects (history file): " + ", ".join(f"{k} {v / mib:.0f}" for k, v in list(h["object_bytes"].items())[:8]))
    stages = last["stage_median_s"]
    total = {f: sum(stages[f].values()) for f in stages}
    step = stages["history"].get(HISTORY_STEP, 0)
    print(f"\nsteps of batch {last['batch']} (s; medians): history step {step:.2f} s = "
          f"{step / total['history']:.0%} of the history feed's steps ({total['history']:.2f} s), "
          f"{step / last['history_s']:.0%} of its wall time; the difference to plain {total['history'] - total['plain']:.2f} s")
    names = list(dict.fromkeys([*stages["history"], *stages["plain"]]))
    print(f"{'step':45} {'plain':>7} {'history':>8} {'diff':>7}")
    for name in names:
        a, b = stages["plain"].get(name.replace("events_with_history.sql", "events.sql"), None), stages["history"].get(name)
        if name.startswith("feeds/events.sql"):
            continue
        a = a or 0
        b = b or 0
        print(f"{name:45} {a:7.2f} {b:8.2f} {b - a:+7.2f}")
    if "statements" in result:
        print(f"\nstatements of batch {last['batch']} again, on copies before it (statement_timings.py; run "
              f"{result['statements']['history']['seconds']:.1f} s history, {result['statements']['plain']['seconds']:.1f} s plain), "
              "history feed, slowest:")
        for st in result["statements"]["history"]["statements"][:15]:
            print(f"{st['seconds']:8.3f} s  {st['where']}  {st['first_line'][:70]}")


if __name__ == "__main__":
    main()
