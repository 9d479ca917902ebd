-- The loader's record of the versions received by feeds that keep a version history:
-- a table whose definition differs by engine (received_version.postgresql.sql is
-- PostgreSQL's). Runs in the opening transaction, before the schema stage.
--
-- Every version a feed with version history (history = 'on') received, one row per key and
-- version: what lets a version arriving late split the window it falls in, where the
-- window's later versions come back (docs/feeds.md, Version history). A version merged into
-- a window (its values equal the window's) has no row of its own in <target>_history; its
-- values are that window's. Written by sql/run/version_history_kept.sql; --prune-history never
-- touches it.
create table if not exists received_version (
    feed         text not null,
    key          text not null,       -- the key's text form, as lineage and --trace have it
    version      text not null,       -- UTC 'YYYY-MM-DDTHH:MM:SS'
    delivery_id  integer not null,    -- its file's delivery (0: the earliest), for corrections
    run_id       integer not null,    -- the run that received it, and its line in that run's
    line_no      integer not null,    --   file of that delivery (run_file): its provenance
    deleted      integer not null,    -- 1: a deletion
    primary key (feed, key, version)
) without rowid;  -- (the key kept in the table itself, not in a second copy: half the size)
