-- PostgreSQL's version of run/lineage_layout.sql: the same tables, kept in a
-- heap (PostgreSQL has no WITHOUT ROWID), so the primary key is narrower:
-- the run and the record, which the heap's rows need no key for.

-- Every accepted record (not rejected): its outcome and where it came from.
create table if not exists lineage_record (
    run_id     integer not null,
    key        text not null,       -- the feed's key as text (lineage.event_id)
    record_no  integer not null,    -- position in the run's input: its lineage ids follow from it
    outcome    integer not null,    -- lineage_outcome: loaded (inserted, updated), skipped, stale, superseded
    source_no  integer not null,    -- lineage_source: the file, stored once per run
    line_no    integer not null,
    ts         text not null,       -- the record's timestamp, UTC (lineage.event_ts)
    detail     text,                -- only what cannot be derived: why a record was stale
    primary key (run_id, record_no)
);
-- ... where event_id = ?: the key, then the run and the record, in one index
create index if not exists lineage_record_by_key on lineage_record (key);

-- Every rejected record of a run, with the reason (the key may be missing).
create table if not exists lineage_rejected (
    run_id     integer not null,
    record_no  integer not null,
    key        text,
    source_no  integer not null,
    line_no    integer not null,
    ts         text,
    reason     text not null,
    primary key (run_id, record_no)
);
create index if not exists lineage_rejected_by_key on lineage_rejected (key);
