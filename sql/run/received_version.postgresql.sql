-- PostgreSQL's version of run/received_version.sql (no WITHOUT ROWID: the same table).
create table if not exists received_version (
    feed         text not null,
    key          text not null,       -- the key's text form, as lineage and --trace have it
    version      text not null,       -- UTC 'YYYY-MM-DDTHH:MM:SS'
    delivery_id  integer not null,    -- its file's delivery (0: the earliest), for corrections
    run_id       integer not null,    -- the run that received it, and its line in that run's
    line_no      integer not null,    --   file of that delivery (run_file): its provenance
    deleted      integer not null,    -- 1: a deletion
    primary key (feed, key, version)
);

