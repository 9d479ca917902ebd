-- Gives the landed text its meaning: the feed's typed values (its records
-- section), the timestamp as UTC (03), and the first rule a record breaks;
-- and decides what a record's own values decide: rejected (it breaks a rule)
-- or skipped (older than the watermark: an earlier run dealt with it). Every
-- other record is 'loaded' (as 'inserted') until 08 or 09 finds otherwise:
-- most records are, and each decision costs a write of the record.
-- Reads: records_typed (03), run_context. Writes: run_batch, one row per input
-- record, in key order.
--
-- run_batch holds the feed's own columns (from feed_records: its typed values)
-- and the loader's, whose names start with '_' as no input column's may:
--   _record_no  input order across the run: the later record wins a tie ...
--   _delivery   ... within its file's content (a delivery: the later delivery wins first)
--   _key        the key as text (the value itself, or a JSON array for several columns)
--   _ts         the timestamp, UTC 'YYYY-MM-DDTHH:MM:SS'
--   _source, _line_no   where the record came from (its raw text stays in landing)
--   _reason     why it was rejected
--   _outcome    rejected | skipped | superseded | stale | loaded
--   _detail     for a loaded record inserted | updated; for a stale one, why
--   _history    what it did to the feed's version history, if it keeps one: opened |
--               split | closed (sql/run/history_kept.sql)
-- (and _ts_text, _invalid, _problem: what the reason was made from)
--
-- Sorted by key, then timestamp, delivery and input order, once: each key's records sit
-- together with the newest last (08 needs no index), and the upsert, the
-- look-up of stored versions and lineage all walk the target's and lineage's
-- keys in order instead of at random.

drop table if exists run_batch;
-- The shape first (a statement that creates a table takes no parameters on
-- PostgreSQL), then the rows.
create temp table run_batch as
select records.*,
       cast(null as text) as _reason,
       cast(null as text) as _outcome,
       cast(null as text) as _detail,
       cast(null as text) as _history
  from records_typed as records
 where 1 = 0;

-- The key and the timestamp are checked here, for every feed; the feed's own
-- columns by its records section (_invalid), after them.
-- Records AT the watermark are not skipped (a late record sharing the
-- watermark's second is not lost); the upsert guard keeps that idempotent.
-- --lookback moves the cut-off back (run_context.skip_before, NULL for a
-- replay: it skips nothing).
insert into run_batch
select decided.*,
       case when _outcome = 'loaded' then 'inserted' end,
       null
  from (select checked.*,
               case when _reason is not null then 'rejected'
                    when _ts < (select skip_before from run_context) then 'skipped'
                    else 'loaded' end as _outcome
          from (select records.*,
                       case
                           when _problem is not null then _problem
                           when _key is null         then replace(:key_columns, ', ', ' or ') || ' is missing'
                           -- (PostgreSQL cannot index a longer key; both engines draw the line here.
                           -- Bytes are counted only for keys of over 500 characters, which can be
                           -- longer than 2000 bytes: on SQLite before 3.43, octet_length is the
                           -- runner's, a function call, kept off the common path)
                           when length(_key) > 500 and octet_length(_key) > 2000
                                                     then :key_columns || ' is longer than 2000 bytes'
                           when _ts_text is null     then :timestamp_column || ' is missing'
                           when _ts is null          then :timestamp_column || ' is not a valid timestamp: ' || _ts_text
                           when _ts > (select future_limit from run_context)
                                                     then :timestamp_column || ' is in the future: ' || _ts_text
                           else _invalid
                       end as _reason
                  from records_typed as records) as checked
       ) as decided
 order by _key, _ts, _delivery, _record_no;

-- Nor is such a key kept in lineage (whose key index would refuse it on
-- PostgreSQL): the dead letter keeps the record as written.
update run_batch
   set _key = null
 where _outcome = 'rejected'
   and _reason = :key_columns || ' is longer than 2000 bytes';
