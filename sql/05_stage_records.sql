-- Gives the landed text its meaning: the feed's typed values (its records
-- section), the timestamp as UTC (03), and the first rule a record breaks.
-- Reads: records_typed (03), run_context. Writes: run_batch, one row per input
-- record; _outcome 'rejected' or NULL (still undecided).
--
-- run_batch holds the feed's own columns (from feed_records: its typed values)
-- and the loader's, whose names start with '_' as no input column's may:
--   _record_no  input order across the run: the later record wins a tie
--   _key        the key as text (the value itself, or a JSON array for several columns)
--   _ts         the timestamp, UTC 'YYYY-MM-DDTHH:MM:SS'
--   _source, _line_no   where the record came from (its raw text stays in landing)
--   _reason     why it was rejected
--   _outcome    rejected | skipped | superseded | stale | loaded
--   _detail     what lineage should say about the outcome
-- (and _ts_text, _invalid, _problem: what the reason was made from)

drop table if exists run_batch;
-- The shape first (a statement that creates a table takes no parameters on
-- PostgreSQL), then the rows.
create temp table run_batch as
select records.*,
       cast(null as text) as _reason,
       cast(null as text) as _outcome,
       cast(null as text) as _detail
  from records_typed as records
 where 1 = 0;

-- The key and the timestamp are checked here, for every feed; the feed's own
-- columns by its records section (_invalid), after them.
insert into run_batch
select records.*,
       case
           when _problem is not null then _problem
           when _key is null         then replace(:key_columns, ', ', ' or ') || ' is missing'
           when _ts_text is null     then :timestamp_column || ' is missing'
           when _ts is null          then :timestamp_column || ' is not a valid timestamp: ' || _ts_text
           when _ts > (select future_limit from run_context)
                                     then :timestamp_column || ' is in the future: ' || _ts_text
           else _invalid
       end,
       null,
       null
  from records_typed as records;

update run_batch set _outcome = 'rejected', _detail = _reason where _reason is not null;
