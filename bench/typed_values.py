"""What each typing helper costs per million values, on SQLite and PostgreSQL, beside the
built-in checks the loader's stage 03 uses for ISO-8601 and epoch timestamps.

    python bench/typed_values.py                      # 1M values, 3 rounds; PostgreSQL on a throwaway cluster
    python bench/typed_values.py --postgres URL       # PostgreSQL at URL instead (a temporary table only)
    python bench/typed_values.py --no-postgres --rows 200000

Each measurement is `select count(EXPR) from t` over a temporary table of realistic values (seeded),
minus the same count of the bare column: the seconds the expression adds, per million values, the
median of the rounds. SQLite: a connection opened as the loader opens one (loader/sqlite_db.py:
the helpers are its Python functions). PostgreSQL: sql/run/functions.postgresql.sql run first, as
the loader runs it; JIT and parallel workers off (the loader's sessions turn JIT off; a count in
one process measures what a value costs, not how many cores the server has).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from loader.sql_files import split_file  # noqa: E402

COLUMNS = ("integer", "decimal", "iso", "iso_offset", "epoch", "pattern", "compact")
PATTERN = "%d/%m/%Y %H:%M"
COMPACT = "%Y%m%d%H%M"  # directives side by side: PostgreSQL captures the groups

# (what is measured, the column it reads, SQLite's expression, PostgreSQL's), {v} the value
CASES = [
    ("typed_integer", "integer", "typed_integer({v})", "typed_integer({v})"),
    ("typed_decimal(v, 15)", "decimal", "typed_decimal({v}, 15)", "typed_decimal({v}, 15)"),
    ("typed_timestamp 'iso8601', YYYY-MM-DDTHH:MM:SS", "iso",
     "typed_timestamp({v}, 'iso8601')", "typed_timestamp({v}, 'iso8601')"),
    ("built-in, stage 03's ISO check, same values", "iso",
     "case when datetime({v}, '+0 seconds') = replace({v}, 'T', ' ') then replace({v}, ' ', 'T') end",
     "pg_temp.utc_text({v})"),
    ("typed_timestamp 'iso8601', with +HH:MM", "iso_offset",
     "typed_timestamp({v}, 'iso8601')", "typed_timestamp({v}, 'iso8601')"),
    ("built-in, stage 03's ISO reading, same values", "iso_offset",
     "strftime('%Y-%m-%dT%H:%M:%S', {v})", "pg_temp.utc_text({v})"),
    ("typed_timestamp 'unix_seconds'", "epoch",
     "typed_timestamp({v}, 'unix_seconds')", "typed_timestamp({v}, 'unix_seconds')"),
    ("built-in, stage 03's epoch reading, same values", "epoch",
     "strftime('%Y-%m-%dT%H:%M:%S', {v}, 'unixepoch')",
     "to_char(to_timestamp(cast({v} as bigint)) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"),
    (f"typed_timestamp '{PATTERN}'", "pattern",
     f"typed_timestamp({{v}}, '{PATTERN}')", f"typed_timestamp({{v}}, '{PATTERN}')"),
    (f"typed_timestamp '{COMPACT}'", "compact",
     f"typed_timestamp({{v}}, '{COMPACT}')", f"typed_timestamp({{v}}, '{COMPACT}')"),
]


def values(rows: int, seed: int = 7) -> list[tuple]:
    """rows rows of the columns COLUMNS: amounts, quantities and times as exports write them."""
    rnd = random.Random(seed)
    start = datetime(2020, 1, 1)
    out = []
    for _ in range(rows):
        moment = start + timedelta(seconds=rnd.randrange(6 * 365 * 86400))
        offset = rnd.choice((-5, 0, 1, 2, 9))
        local = moment + timedelta(hours=offset)
        out.append((
            str(rnd.randrange(1, 10 ** rnd.randint(1, 9))),
            f"{rnd.choice(('', '', '', '-'))}{rnd.randrange(0, 100000)}.{rnd.randrange(0, 100):02d}",
            moment.strftime("%Y-%m-%dT%H:%M:%S"),
            local.strftime("%Y-%m-%d %H:%M:%S") + f"{'+' if offset >= 0 else '-'}{abs(offset):02d}:00",
            str(int(moment.replace(tzinfo=timezone.utc).timestamp())),
            local.strftime(PATTERN),
            local.strftime(COMPACT),
        ))
    return out


def timed(cursor, sql: str, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure(cursor, expressions: list[tuple[str, str]], rows: int, rounds: int) -> list[float]:
    """Per million values: each expression's count less the bare column's."""
    bare = {column: timed(cursor, f"select count({column}) from t", rounds) for column in COLUMNS}
    out = []
    for column, expression in expressions:
        seconds = timed(cursor, f"select count({expression.replace('{v}', column)}) from t", rounds)
        out.append((seconds - bare[column]) * 1_000_000 / rows)
    return out


def bench_sqlite(data: list[tuple], rounds: int) -> list[float]:
    from loader.sqlite_db import SQLiteEngine
    with tempfile.TemporaryDirectory() as tmp:
        engine = SQLiteEngine(str(Path(tmp) / "bench.db"), lock_timeout=5)
        cursor = engine.conn.cursor()
        cursor.execute(f"create temp table t ({', '.join(c + ' text' for c in COLUMNS)})")
        cursor.executemany(f"insert into t values ({', '.join('?' * len(COLUMNS))})", data)
        try:
            return measure(cursor, [(column, sqlite) for _, column, sqlite, _ in CASES], len(data), rounds)
        finally:
            engine.close()


def bench_postgres(url: str, data: list[tuple], rounds: int) -> list[float]:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute("set jit = off")
        cursor.execute("set max_parallel_workers_per_gather = 0")
        cursor.execute("set work_mem = '64MB'")
        for statement in split_file(ROOT / "sql" / "run" / "functions.postgresql.sql"):
            cursor.execute(statement.pyformat_text, {"unused": None})
        stage = (ROOT / "sql" / "03_parse_values.postgresql.sql").read_text()  # its utc_text, as it is
        cursor.execute(stage[stage.index("create or replace function pg_temp.utc_text"):stage.index("$$;") + 3])
        cursor.execute(f"create temp table t ({', '.join(c + ' text' for c in COLUMNS)})")
        with cursor.copy(f"copy t ({', '.join(COLUMNS)}) from stdin") as copy:
            for row in data:
                copy.write_row(row)
        cursor.execute("analyze t")
        return measure(cursor, [(column, pg) for _, column, _, pg in CASES], len(data), rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database to measure in (default: a "
                        "throwaway cluster, tests/postgres_server.py, where PostgreSQL is installed)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    data = values(args.rows)
    print(f"{args.rows:,} values, median of {args.rounds} rounds", file=sys.stderr)
    sqlite = bench_sqlite(data, args.rounds)
    postgres, where = None, ""
    if not args.no_postgres:
        if args.postgres:
            postgres = bench_postgres(args.postgres, data, args.rounds)
        else:
            from postgres_server import Cluster, find_bindir
            bindir = find_bindir()
            if bindir is None:
                where = " (no PostgreSQL server found: pass --postgres URL)"
            else:
                cluster = Cluster(bindir).start()
                try:
                    postgres = bench_postgres(cluster.url("postgres"), data, args.rounds)
                finally:
                    cluster.stop()
    print("| per 1M values | SQLite s | PostgreSQL s |")
    print("|---|---:|---:|")
    for n, (label, *_rest) in enumerate(CASES):
        pg = f"{postgres[n]:.2f}" if postgres else "–"
        print(f"| {label} | {sqlite[n]:.2f} | {pg} |")
    if where:
        print(where.strip(), file=sys.stderr)


if __name__ == "__main__":
    main()
