-- The sample feed: purchase events, one row per event_id in the table events.
-- To make a feed of your own, copy this file (or orders.sql, whose key has two
-- columns) and change what it says about the records: docs/feeds.md.
--
-- Each section runs at its own place in a run (the stages in sql/ are generic:
-- they know a record only by the names starting with '_' that this file gives):
--   declare  read by the runner before the database is opened
--   target   with the schema stage (01), in the run's opening transaction
--   records  in the load, after stage 02 checked the input's columns: the
--            view feed_records, which the generic stages read
--   versions after stage 05 staged the records: the view stored_versions
--   upsert   after stage 09 decided each record's outcome
--   trace    for --trace
-- Written in the common subset of SQLite and PostgreSQL: one definition for
-- both (on PostgreSQL the runner drops the target's WITHOUT ROWID; a section
-- that must differ otherwise goes in NAME.postgresql.sql beside it, which
-- replaces only that section).

-- section: declare
-- Who the feed is. The runner binds each column to every statement (:feed,
-- :target, ...); the generic stages use them in their rules and messages.
-- Two definitions that declare the same feed name are the same feed (its
-- watermark, history and dead letters).
select 'events'                              as feed,
       'events'                              as target,
       'event_id'                            as key_columns,       -- one column, or several: 'a, b'
       'event_ts'                            as timestamp_column,
       'iso8601'                             as timestamp_format,  -- or 'unix_seconds'
       'event_id, event_ts, user_id, amount' as input_columns;     -- what the input must have

-- section: target
-- One row per key, always the newest version seen, and where it came from.
-- WITHOUT ROWID: the rows are stored in the key's own B-tree, so the key is
-- kept once, not in the table and again in an index (SQLite's: on PostgreSQL,
-- where a table is a heap beside its primary key's index, the runner drops it).
create table if not exists events (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,     -- the run that last wrote this row ...
    source    text not null,        -- ... and the file and line it came from
    line_no   integer not null
) without rowid;

-- section: records
-- feed_records: one row per landed record (landing: one text column per input
-- column, and _record_no). The generic stages read:
--   _record_no  as landed
--   _key        the key as text, NULL when missing: the value itself for one
--               column, key_text(a, b) for several
--   _ts_text    the timestamp as written (timestamp_format says how to read it)
--   _invalid    the first rule the other columns break, as the reason a person
--               reads in dead_letter; NULL when they are fine
-- and every other column is the feed's own typed value, kept in run_batch for
-- the upsert (and for stages of your own).
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       event_id as _key,
       event_ts as _ts_text,
       event_id,
       user_id,
       -- a number: digits with at most one '.', after an optional sign (12, -3.5, .5, 7.;
       -- no exponents, no thousands separators), and at most 15 digits: SQLite keeps
       -- numbers as 64-bit floats, and more digits would be silently rounded. The common
       -- form (digits and at most one '.') is read with built-ins, here and in the rule:
       -- on SQLite a helper is a Python call, which a million records feel (docs/
       -- performance.md); typed_decimal (docs/helpers.md) reads the rest.
       cast(case when trim(amount, '0123456789') in ('', '.') and amount <> '.' then amount
                 else typed_decimal(amount, 15) end as numeric) as amount,
       case when amount is null then 'amount is missing'
            when trim(amount, '0123456789') in ('', '.') and amount <> '.' and length(amount) <= 15 then null
            when typed_decimal(amount, 15) is null
                 then case when typed_decimal(amount, null) is null then 'amount is not a number: ' || amount
                           else 'amount has more than 15 digits: ' || amount end
       end as _invalid
  from (select _record_no,
               nullif(trim(event_id), '') as event_id,
               nullif(trim(event_ts), '') as event_ts,
               nullif(trim(user_id), '')  as user_id,
               nullif(trim(amount), '')   as amount
          from landing) as fields;

-- section: versions
-- stored_versions: each record of run_batch (stage 05: the records, typed, in
-- key order) still to be loaded or skipped whose key the target already
-- holds, and the stored row's timestamp, in the form the upsert stores it (UTC
-- 'YYYY-MM-DDTHH:MM:SS'), whether the record's values are the stored ones
-- (_same), and the stored row's run and file. Stage 09 marks a record older than
-- it, or at its version with the same values, 'stale'; stage 07 tells late data
-- from records an earlier run dealt with.
drop view if exists stored_versions;
create temp view stored_versions as
select records._record_no, stored.event_ts as _ts,
       -- the same values: every column the upsert writes but the key, the timestamp and
       -- the provenance, typed, NULL equal to NULL (a record at the stored version with
       -- other values is a correction: 09)
       case when stored.user_id is not distinct from records.user_id
             and stored.amount is not distinct from records.amount then 1 else 0 end as _same,
       stored.run_id as _run_id, stored.source as _source   -- (the stored row's delivery)
  from run_batch as records
  join events as stored on stored.event_id = records.event_id
 where records._outcome in ('loaded', 'skipped');  -- (skipped: for late data, 07)

-- section: upsert
-- The guarded upsert: a stored row is replaced only by a strictly newer one,
-- whatever the stages before decided. run_batch is in key order (stage 05):
-- each page of the target's key is visited once, not at random.
insert into events (event_id, event_ts, user_id, amount, run_id, source, line_no)
select event_id, _ts, user_id, amount, :run_id, _source, _line_no
  from run_batch
 where _outcome = 'loaded'
on conflict (event_id) do update
   set event_ts = excluded.event_ts,
       user_id  = excluded.user_id,
       amount   = excluded.amount,
       run_id   = excluded.run_id,
       source   = excluded.source,
       line_no  = excluded.line_no
 where excluded.event_ts > events.event_ts;

-- section: trace
-- The key's current row (--trace KEY; :key is the key as text).
select * from events where event_id = :key;
