-- Creates the tables, indexes and views the pipeline and its users rely on,
-- for every feed (a feed's own target table is created by its definition).
-- Idempotent (IF NOT EXISTS): it runs at the start of every run, in the short
-- opening transaction that also records the run in run_log (run/open.sql), so
-- the tables exist and the run is on record even if the load then fails.
-- A database written by an earlier release is first brought up to date by
-- sql/upgrade/NNN_*.sql; the runner then records the version in schema_version.
-- Written in the common subset of SQLite and PostgreSQL. Ids are plain integer
-- keys that the stages number themselves (max + 1, under the run's lock), so
-- no engine's auto-increment syntax is needed.

-- The schema's version, one row per version this database was created at or
-- upgraded to (sql/upgrade/).
create table if not exists schema_version (
    version     integer primary key,
    applied_at  text not null,
    description text not null
);

-- Which feed writes which target table: recorded by each successful load
-- (12), so that a second feed declaring the same table is refused (02).
create table if not exists feeds (
    feed        text primary key,
    target      text not null,
    definition  text not null,          -- the definition's file, when it last loaded
    last_run_id integer not null
);

-- Every table below has a feed column: several feeds share a database, each
-- with its own watermark and history. It comes last, where an upgrade from an
-- earlier release adds it, and its default names the sample feed: rows written
-- before feeds existed are that feed's.

-- Records that failed validation, with their raw text and the reason.
-- One row per (feed, source, line_no, raw): rerunning a file adds no duplicates;
-- lineage records each run that rejected it again.
create table if not exists dead_letter (
    dead_letter_id  integer primary key,
    run_id          integer not null,   -- the run that first rejected it
    source          text not null,
    line_no         integer not null,
    raw             text not null,
    reason          text not null,      -- the latest reason (a rule may have changed)
    status          text not null default 'open',  -- open | resolved
    resolved_by_run integer,            -- the run in which it passed validation
    feed            text not null default 'events'
);
create index if not exists dead_letter_by_position on dead_letter (source, line_no);
create index if not exists dead_letter_by_run on dead_letter (run_id);

-- One entry per record per step it went through in a run:
-- staged, then loaded | skipped | stale | superseded; or rejected.
-- event_id and event_ts hold any feed's key (as text: the value itself, or a
-- JSON array for a key of several columns) and its timestamp (UTC).
create table if not exists lineage (
    lineage_id  integer primary key,
    run_id      integer not null,
    step        text not null,
    event_id    text,                   -- the key; NULL when a rejected record had none
    source      text not null,
    line_no     integer not null,
    event_ts    text,
    detail      text,
    feed        text not null default 'events'
);
create index if not exists lineage_by_run on lineage (run_id, step);
create index if not exists lineage_by_event on lineage (event_id);

-- Each feed's high-water mark: the newest timestamp loaded. Records older than
-- it are skipped on the next run; records at it are reconsidered.
create table if not exists watermark (
    feed        text primary key,
    value       text,
    run_id      integer,
    updated_at  text
);

-- One row per run, whatever became of it.
create table if not exists run_log (
    run_id           integer primary key,
    kind             text not null,        -- load | replay (of open dead letters)
    status           text not null,        -- running | succeeded | failed | interrupted
    started_at       text not null,        -- the run's clock, UTC like every timestamp here
    finished_at      text,
    source           text,                 -- the input path(s)
    format           text,                 -- csv | jsonl: how a replay parses the raw text ...
    header           text,                 -- ... with these column names
    lookback_seconds integer,              -- how far behind the watermark records were reconsidered
    host             text,                 -- where the runner ran, and its process id:
    pid              integer,              --   how a later run tells a dead run from a live one
    input_records    integer,
    staged           integer,
    rejected         integer,
    loaded           integer,
    late_loaded      integer,              -- loaded although older than the watermark (lookback, replay)
    inserted         integer,
    updated          integer,
    skipped          integer,              -- older than the watermark
    stale            integer,              -- the stored row was at least as new
    superseded       integer,              -- a newer record for the same key in this batch
    dead_letters     integer,              -- new dead letters written
    dead_letters_repeated integer,         -- rejects already in dead_letter from an earlier run
    dead_letters_resolved integer,         -- open dead letters whose record now passed
    lineage_entries  integer,
    watermark_before text,
    watermark_after  text,
    error            text,
    feed             text not null default 'events'
);

-- The run's constants, filled by stage 03 in each engine's dialect.
create temp table if not exists run_context (
    run_at          text,   -- the run's clock
    future_limit    text,   -- a timestamp later than this is "in the future"
    watermark       text,   -- as stored
    watermark_utc   text,   -- the same, if it is a real time; else NULL
    skip_before     text,   -- records older than this are skipped (07): the watermark
                            -- minus the lookback; NULL (skip nothing) for a replay
    timestamp_format text   -- the feed's (views take no parameters)
);

-- A stage refuses the whole run by inserting a reason here (see run/refusals.sql).
create temp table if not exists run_refusal (
    reason  text not null
);

-- Views are recreated on every run, so an edit here takes effect.
drop view if exists open_dead_letters;
create view open_dead_letters as
select dead_letter_id, feed, run_id, source, line_no, reason, raw
  from dead_letter
 where status = 'open';

drop view if exists lineage_steps;
create view lineage_steps as
select run_id, step, count(*) as entries
  from lineage
 group by run_id, step;
