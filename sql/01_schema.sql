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
    last_run_id integer not null,
    history_through integer             -- version history (history = 'on'): kept through this run;
                                        -- behind last_run_id, it has a hole and is never extended
);

-- Every table below has a feed column: several feeds share a database, each
-- with its own watermark and history. It comes last, where an upgrade from an
-- earlier release adds it, and its default names the sample feed: rows written
-- before feeds existed are that feed's.

-- Records that failed validation, with their raw text and the reason.
-- One row per (feed, source, line_no, received_raw): rerunning a file adds no
-- duplicates, even of a dead letter fixed (raw updated) and resolved since;
-- lineage records each run that rejected it again.
create table if not exists dead_letter (
    dead_letter_id  integer primary key,
    run_id          integer not null,   -- the run that first rejected it
    source          text not null,
    line_no         integer not null,
    raw             text not null,
    reason          text not null,      -- the latest reason (a rule may have changed)
    status          text not null default 'open',  -- open | resolved | dismissed
    resolved_by_run integer,            -- the run in which it passed validation
    feed            text not null default 'events',
    received_raw    text,               -- the text as first rejected, which stage 06 matches;
                                        -- never updated (raw is the one to fix: a replay sends raw)
    dismissed_at    text,               -- status dismissed: when --dismiss-dead-letters closed it,
    dismiss_reason  text                --   and why (schema version 9)
);
create index if not exists dead_letter_by_position on dead_letter (source, line_no);

-- The highest id a table whose rows --prune-history deletes has given (today:
-- dead_letter), so that new ids follow it and no id is ever given twice.
create table if not exists id_high_water (
    name   text primary key,
    value  integer not null
);
create index if not exists dead_letter_by_run on dead_letter (run_id);

-- The resolved dead letters --prune-history removed, by what a rerun of their
-- file matches (06): their feed, file, line and text as first rejected. A
-- rerun rejects such a record again as repeated, as when it was kept.
create table if not exists dead_letter_pruned (
    dead_letter_id  integer primary key,   -- the id it had
    feed            text not null,
    source          text not null,
    line_no         integer not null,
    received_raw    text not null,
    resolved_by_run integer not null
);
create index if not exists dead_letter_pruned_by_position on dead_letter_pruned (source, line_no);

-- Lineage: one entry per record per step it went through in a run (staged,
-- then loaded | deleted | skipped | stale | superseded; or rejected), read through the
-- view lineage below. Each record is stored once per run (run/lineage_layout.sql:
-- lineage_record, lineage_rejected); what is the same for a whole run is
-- stored once, here.
create table if not exists lineage_run (
    run_id           integer primary key,
    feed             text not null,
    lineage_base     integer not null,  -- a record's entries: base + 2 * record_no (- 1: staged)
    last_lineage_id  integer not null,  -- the next run's base
    timestamp_column text not null,
    skip_detail      text               -- why its records were skipped: the watermark, the lookback
);

-- The outcomes a record in lineage_record can have, each stored as a number
-- (one byte a record instead of a word).
create table if not exists lineage_outcome (
    outcome    integer primary key,
    step       text not null,       -- the step lineage shows
    loaded_as  text,                -- its detail: for a loaded record inserted | updated | corrected;
                                    -- for a deleted one removed | marked | no row (a deletion
                                    -- of a key the target does not hold: remembered only)
    history    text                 -- what it did to its feed's version history (history = 'on'):
                                    -- opened | split | closed a window; NULL: nothing
);
insert into lineage_outcome (outcome, step, loaded_as)
select 1, 'loaded', 'inserted' union all
select 2, 'loaded', 'updated' union all
select 3, 'skipped', null union all
select 4, 'stale', null union all
select 5, 'superseded', null union all
select 6, 'deleted', 'removed' union all
select 7, 'deleted', 'marked' union all
select 8, 'deleted', 'no row' union all
select 9, 'loaded', 'corrected' union all
select 10, 'differing', null
on conflict (outcome) do nothing;
-- each with what it did to the version history: outcome + 16 (opened), + 32 (split), + 48 (closed)
insert into lineage_outcome (outcome, step, loaded_as, history)
select base.outcome + 16 * effect.n, base.step, base.loaded_as, effect.history
  from lineage_outcome as base,
       (select 1 as n, 'opened' as history union all
        select 2, 'split' union all
        select 3, 'closed') as effect
 where base.outcome < 16
on conflict (outcome) do nothing;

-- The files a run read, numbered in input order (lineage_record.source_no).
create table if not exists lineage_source (
    run_id     integer not null,
    source_no  integer not null,
    source     text not null,
    primary key (run_id, source_no)
);

-- Lineage written before schema version 3, one row per entry, kept as it was
-- written (sql/upgrade/003_lean_lineage.sql renamed it); empty in a newer
-- database. event_id and event_ts hold any feed's key and timestamp as text.
create table if not exists lineage_before_v3 (
    lineage_id  integer primary key,
    run_id      integer not null,
    step        text not null,
    event_id    text,
    source      text not null,
    line_no     integer not null,
    event_ts    text,
    detail      text,
    feed        text not null default 'events'
);
-- (the names its indexes had when the table was lineage)
create index if not exists lineage_by_run on lineage_before_v3 (run_id, step);
create index if not exists lineage_by_event on lineage_before_v3 (event_id);

-- The keys a feed's deletions took out (docs/feeds.md, Deletes), each at the version of
-- its newest deletion: what keeps an older record of the key, arriving later, from
-- bringing it back (09: stale). One row per key, written by the run that applied the
-- deletion, whether the target held the key or not; a newer record of the key removes
-- it. --prune-history never touches it.
create table if not exists tombstone (
    feed     text not null,
    key      text not null,      -- the key's text form, as lineage and --trace have it
    version  text not null,      -- the deletion's timestamp, UTC 'YYYY-MM-DDTHH:MM:SS'
    run_id   integer not null,   -- the run that applied it ...
    source   text not null,      -- ... and the file and line it came from
    line_no  integer not null,
    primary key (feed, key)
);

-- Each input's content, once: a delivery (docs/feeds.md, Corrections). Its id is its
-- place: deliveries are numbered as committed runs first load them, in the order of
-- their command lines, so a later delivery has a larger id; a content seen before
-- keeps its id wherever it appears again. --prune-history never touches it.
create table if not exists delivery (
    delivery_id  integer primary key,
    sha256       text not null unique,  -- of the bytes read (after gzip decompression)
    run_id       integer not null,      -- the run that first loaded it ...
    source       text not null          -- ... and the file it was then
);

-- The delivery each file of each run was: a stored row's provenance (run_id, source)
-- finds its delivery here. A row stored before schema version 9 has none: it counts as
-- the earliest delivery. --prune-history never touches it.
create table if not exists run_file (
    run_id       integer not null,
    source       text not null,
    delivery_id  integer not null,
    primary key (run_id, source)
);

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
    feed             text not null default 'events',
    late_skipped     integer,              -- skipped, yet a run whose lookback reached them would have
    oldest_late      text,                 --   loaded them (late data); the oldest one's timestamp
    pruned_at        text,                 -- when --prune-history removed its lineage (its counts stay)
    openlineage_run_id text,               -- the run id of its OpenLineage events, if it was reported
    process_started  text,                 -- when the process of pid started: Linux, "TICKS/BOOT_ID"
                                           -- (/proc/PID/stat); PostgreSQL, its backend's start;
                                           -- NULL without /proc, and before schema version 7
    deleted          integer,              -- deletions applied: rows removed or marked, keys remembered
    differing        integer,              -- at the stored version with other values, not applied
    corrected        integer,              -- loaded at the stored version: a later delivery's correction
    history_opened   integer,              -- version history (history = 'on'): windows opened at the end,
    history_split    integer,              --   windows split by a version arriving late,
    history_closed   integer               --   windows closed by a deletion
);

-- The run's constants, filled by stage 03 in each engine's dialect.
create temp table if not exists run_context (
    run_at          text,   -- the run's clock
    future_limit    text,   -- a timestamp later than this is "in the future"
    watermark       text,   -- as stored
    watermark_utc   text,   -- the same, if it is a real time; else NULL
    skip_before     text,   -- records older than this are skipped (07): the watermark
                            -- minus the lookback; NULL (skip nothing) for a replay
    timestamp_format text,  -- the feed's (views take no parameters)
    feed            text    -- the feed's name
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

-- The dead letters no replay will send: resolved (their record passed validation, in
-- resolved_by_run) or dismissed (--dismiss-dead-letters: never to be fixed, and why).
drop view if exists closed_dead_letters;
create view closed_dead_letters as
select dead_letter_id, feed, run_id, source, line_no, status, resolved_by_run, dismissed_at, dismiss_reason,
       reason, raw
  from dead_letter
 where status in ('resolved', 'dismissed');

-- Every lineage entry, whichever layout holds it: what users query and count.
-- lineage_id is unique and increasing in run and input order, a record's
-- staged entry just before its outcome. A filter on event_id or run_id
-- reaches each branch's index (the database pushes it into every branch).
drop view if exists lineage_steps;
drop view if exists lineage;
create view lineage as
select run.lineage_base + 2 * r.record_no - 1 as lineage_id,
       r.run_id, 'staged' as step, r.key as event_id, file.source, r.line_no, r.ts as event_ts,
       cast(null as text) as detail, run.feed
  from lineage_record as r
  join lineage_run as run on run.run_id = r.run_id
  join lineage_source as file on file.run_id = r.run_id and file.source_no = r.source_no
union all
select run.lineage_base + 2 * r.record_no,
       r.run_id, outcome.step, r.key, file.source, r.line_no, r.ts,
       case outcome.step
            when 'skipped' then run.skip_detail
            when 'stale' then r.detail
            when 'differing' then r.detail
            -- the record that won: the key's one record in the run that was
            -- neither skipped nor superseded
            when 'superseded' then
                (select 'the record for this key on line ' || winner.line_no
                        || case when winner.source_no <> r.source_no
                                then ' of ' || (select source from lineage_source
                                                 where run_id = r.run_id and source_no = winner.source_no)
                                else '' end
                        || ' wins (' || case when winner.ts <> r.ts then 'newer ' || run.timestamp_column
                                             when winner.record_no > r.record_no
                                             then 'same ' || run.timestamp_column || ', later in the input'
                                             -- (earlier in the input: its file's content came later)
                                             else 'same ' || run.timestamp_column || ', a later delivery' end || ')'
                   from lineage_record as winner
                  where winner.run_id = r.run_id
                    and winner.key = r.key
                    and winner.outcome in (select outcome from lineage_outcome
                                            where step in ('loaded', 'deleted', 'stale', 'differing')))
            else outcome.loaded_as
       end
       -- (and what it did to the version history, for a feed that keeps one)
       || coalesce('; history: ' || outcome.history, ''),
       run.feed
  from lineage_record as r
  join lineage_outcome as outcome on outcome.outcome = r.outcome
  join lineage_run as run on run.run_id = r.run_id
  join lineage_source as file on file.run_id = r.run_id and file.source_no = r.source_no
union all
select run.lineage_base + 2 * r.record_no,
       r.run_id, 'rejected', r.key, file.source, r.line_no, r.ts, r.reason, run.feed
  from lineage_rejected as r
  join lineage_run as run on run.run_id = r.run_id
  join lineage_source as file on file.run_id = r.run_id and file.source_no = r.source_no
union all
select lineage_id, run_id, step, event_id, source, line_no, event_ts, detail, feed
  from lineage_before_v3;

create view lineage_steps as
select run_id, step, count(*) as entries
  from lineage
 group by run_id, step;
