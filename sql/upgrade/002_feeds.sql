-- Schema version 2: feeds. Brings a database written before feeds existed (by
-- release c024a08, schema version 1) up to date, in the opening transaction
-- under the run lock: an interrupted upgrade changes nothing.
-- Every row written so far belongs to the sample feed, events, and keeps its
-- history; the events table itself is unchanged (sql/feeds/events.sql owns it).
-- Adding a column with a default rewrites no row, on either engine: the upgrade
-- takes the same moment for a year of lineage as for a day's.

create table schema_version (
    version     integer primary key,
    applied_at  text not null,
    description text not null
);

alter table run_log add column feed text not null default 'events';
alter table lineage add column feed text not null default 'events';
alter table dead_letter add column feed text not null default 'events';

-- one watermark per feed, keyed by the feed's name (it held 'events' already)
alter table watermark rename column target to feed;
