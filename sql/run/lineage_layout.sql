-- Where each record's lineage is stored: the two tables whose definition
-- differs by engine (lineage_layout.postgresql.sql is PostgreSQL's). Runs in
-- the opening transaction, before the schema stage (01), whose view lineage
-- reads them with the rest of the history.
--
-- One narrow row per record per run, not one wide row per entry: the view
-- lineage gives each accepted record its 'staged' entry and its outcome, and
-- derives what every entry used to repeat (the file name, the run's feed, the
-- watermark a skip was measured against, the line of a winning duplicate).
-- Clustered by run, then key: a run's rows are appended in the order stage 05
-- sorted its batch (by key), never inserted among older runs' rows; WITHOUT
-- ROWID keeps the key in the table itself instead of in a second copy.

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
    primary key (run_id, key, record_no)
) without rowid;
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
) without rowid;
create index if not exists lineage_rejected_by_key on lineage_rejected (key);
