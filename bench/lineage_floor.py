"""What the lineage contract costs on its own: the entries one run of a batch must write
(staged + outcome for each valid record, rejected for each invalid one) into the real
lineage table, with its indexes, in one transaction, and the commit. Nothing else.

    python bench/lineage_floor.py /tmp/batch.csv              # a batch from generate_batch.py
    python bench/lineage_floor.py /tmp/batch.csv --one-entry  # one entry per record instead

Compare the seconds with the raw-insert limit that bench.py prints for the same batch.
--one-entry measures the cheapest alternative contract that still indexes every record by
event_id: one entry per record, with `staged` implied.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import sqlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from generate_batch import INVALID  # noqa: E402  (the invalid timestamps it writes)


def main() -> None:
    batch = sys.argv[1]
    staged = "where 0" if "--one-entry" in sys.argv[2:] else "where valid"
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma cache_size = -24576")  # as the runner sets it
        for statement in sqlparse.split((ROOT / "sql" / "01_schema.sql").read_text()):
            conn.execute(statement)
        # the records and their outcomes, ready before the clock starts (invalid as generated)
        conn.execute("create temp table records (record_no integer primary key, event_id text,"
                     " line_no integer, event_ts text, valid integer)")
        with open(batch, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows)
            conn.executemany("insert into records (event_id, event_ts, line_no, valid) values (?, ?, ?, ?)",
                             ((r[0], r[1], n, r[1] not in INVALID and r[3] != "n/a") for n, r in enumerate(rows, 2)))
        conn.execute("begin")
        started = time.perf_counter()
        conn.execute(f"""
            insert into lineage (lineage_id, run_id, step, event_id, source, line_no, event_ts, detail)
            select 2 * record_no - 1, 1, 'staged', event_id, :source, line_no, event_ts, null
              from records {staged}
            union all
            select 2 * record_no, 1, case when valid then 'loaded' else 'rejected' end,
                   event_id, :source, line_no, event_ts, case when valid then 'inserted' else 'a reason' end
              from records""", {"source": str(Path(batch).resolve())})
        written = time.perf_counter()
        conn.execute("commit")
        done = time.perf_counter()
        entries = conn.execute("select count(*) from lineage").fetchone()[0]
    print(f"{entries:,} lineage entries: insert {written - started:.2f} s, commit {done - written:.2f} s, "
          f"total {done - started:.2f} s")


if __name__ == "__main__":
    main()
