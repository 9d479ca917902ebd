"""Peer for bench.py --peers: the same CSV merged into DuckDB by dlt.

    python bench/dlt_peer.py BATCH.csv WORKDIR

Streams BATCH.csv (header event_id,event_ts,user_id,amount) through Python's
csv module as a dlt resource, in pages of dicts, all columns text, and loads it
with write_disposition="merge", primary_key="event_id" (dlt's default
delete-insert strategy) into WORKDIR/dlt.duckdb. dlt's pipeline state and
load packages stay in WORKDIR; telemetry is off.

What dlt does NOT do here, compared with the loader:
  - no validation: bad timestamps or amounts are loaded as they are; nothing is
    routed to a dead-letter table;
  - no per-record lineage (only dlt's per-load _dlt_loads / _dlt_load_id);
  - no stale guard: within the batch one record per key is kept with no regard
    to its timestamp (without a dedup_sort hint dlt's choice is arbitrary), and
    that record replaces the stored row even when the stored row is newer.
"""

import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402

PAGE = 10_000
COLUMNS = ("event_id", "event_ts", "user_id", "amount")


def main(batch: str, workdir: str) -> None:
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)

    @dlt.resource(name="events", write_disposition="merge", primary_key="event_id",
                  columns={c: {"data_type": "text", "nullable": c != "event_id"} for c in COLUMNS})
    def events():
        with open(batch, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            if tuple(next(rows)) != COLUMNS:
                raise SystemExit(f"{batch}: expected header {','.join(COLUMNS)}")
            page = []
            for row in rows:
                page.append(dict(zip(COLUMNS, row)))
                if len(page) == PAGE:
                    yield page
                    page = []
            if page:
                yield page

    pipeline = dlt.pipeline(pipeline_name="dlt_peer", pipelines_dir=str(work / "pipelines"),
                            destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
                            dataset_name="bench")
    info = pipeline.run(events())
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
