"""What the lineage contract costs on its own: the rows one run of a batch must write in the
lean layout (one lineage_record row per valid record, in key order as stage 05 sorts the
batch; one lineage_rejected row per invalid one; the run and its file once), into the real
tables with their indexes, in one transaction, and the commit. Nothing else.

    python bench/lineage_floor.py /tmp/batch.csv     # a batch from generate_batch.py

Compare the seconds with the raw-insert limit that bench.py prints for the same batch: this
is part of the floor under the pipeline's time, whatever its stages do.
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
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma cache_size = -12288")  # as the runner sets it
        for path in (ROOT / "sql" / "run" / "lineage_layout.sql", ROOT / "sql" / "01_schema.sql"):
            for statement in sqlparse.split(path.read_text()):
                if sqlparse.format(statement, strip_comments=True).strip():
                    conn.execute(statement)
        # the records and their outcomes, sorted by key, ready before the clock starts
        conn.execute("create temp table records (record_no integer, event_id text,"
                     " line_no integer, event_ts text, valid integer)")
        with open(batch, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows)
            conn.executemany("insert into records values (?, ?, ?, ?, ?)",
                             ((n - 1, r[0], n, r[1], r[1] not in INVALID and r[3] != "n/a")
                              for n, r in enumerate(rows, 2)))
        conn.execute("create temp table sorted as select * from records order by event_id, event_ts, record_no")
        conn.execute("begin")
        started = time.perf_counter()
        conn.execute("insert into lineage_run (run_id, feed, lineage_base, last_lineage_id, timestamp_column)"
                     " select 1, 'events', 0, 2 * count(*), 'event_ts' from sorted")
        conn.execute("insert into lineage_source values (1, 1, ?)", (str(Path(batch).resolve()),))
        conn.execute("insert into lineage_record (run_id, key, record_no, outcome, source_no, line_no, ts)"
                     " select 1, event_id, record_no, 1, 1, line_no, event_ts from sorted where valid")
        conn.execute("insert into lineage_rejected (run_id, record_no, key, source_no, line_no, ts, reason)"
                     " select 1, record_no, event_id, 1, line_no, event_ts, 'a reason' from sorted where not valid")
        written = time.perf_counter()
        conn.execute("commit")
        done = time.perf_counter()
        entries = conn.execute("select count(*) from lineage").fetchone()[0]
    print(f"{entries:,} lineage entries: insert {written - started:.2f} s, commit {done - written:.2f} s, "
          f"total {done - started:.2f} s")


if __name__ == "__main__":
    main()
