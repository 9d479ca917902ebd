-- Schema version 10: version history (docs/feeds.md, Version history).
--
-- run_log gains history_opened, history_split and history_closed (0 where a run
-- recorded its counts: no feed kept a version history before); feeds gains
-- history_through; lineage_outcome gains history, what a record did to the
-- version history (NULL: nothing, as for every record stored before). The table
-- received_version and lineage's outcomes with a history effect are made by the
-- schema stage, as in a new database. Adding a column rewrites no row.
alter table run_log add column history_opened integer;
alter table run_log add column history_split integer;
alter table run_log add column history_closed integer;
update run_log set history_opened = 0, history_split = 0, history_closed = 0 where loaded is not null;
-- (a database older than the tables feeds and lineage_outcome gets them as they were,
-- then the column: the schema stage, which would make them, runs after the upgrades)
create table if not exists feeds (
    feed        text primary key,
    target      text not null,
    definition  text not null,
    last_run_id integer not null
);
alter table feeds add column history_through integer;
create table if not exists lineage_outcome (
    outcome    integer primary key,
    step       text not null,
    loaded_as  text
);
alter table lineage_outcome add column history text;
