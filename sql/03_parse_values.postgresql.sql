-- How this engine reads time and numbers: PostgreSQL's version of 03_parse_values.sql.
-- Same contract, same accepted formats; keep the two in step.
-- Reads: feed_changes (the feed's records: run/changes_*.sql), landing, :now, :watermark,
--        :timestamp_format (the feed's declaration).
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         records_typed (a view: the feed's records, landing's own columns, and
--         _ts, the record's timestamp as UTC text, NULL when not a real time).
--
-- A cast of a bad timestamp raises an error in PostgreSQL instead of giving
-- NULL, so the shape is checked with a regular expression first and an
-- impossible day (30 February) by arithmetic, before anything is cast.

create or replace function pg_temp.utc_text(v text) returns text
language sql stable as $$
select case
    -- the common form, already UTC 'YYYY-MM-DDTHH:MM:SS', on a day every month has: checked,
    -- and kept as written, with no cast or to_char (half of this function's cost at a
    -- million; notes.md, 60). Any other day or form takes the full check below.
    when v ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$'
         and substr(v, 1, 4) <> '0000'
        then v
    when v !~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?( ?[Zz]|[+-](0\d|1[0-4]):[0-5]\d)?)?$'
         or substr(v, 1, 4) = '0000'
        then null
    -- the first of the month plus (day - 1) days must still be in that month
    when extract(month from cast(substr(v, 1, 7) || '-01' as date) + (cast(substr(v, 9, 2) as integer) - 1))
         <> cast(substr(v, 6, 2) as integer)
        then null
    when v ~ '([Zz]|[+-]\d\d:\d\d)$'
        then to_char(cast(v as timestamptz) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    else to_char(cast(v as timestamp), 'YYYY-MM-DD"T"HH24:MI:SS')  -- a naive time is UTC
end
$$;

delete from run_context;  -- one row: this run's (the table is declared in 01)

-- The tolerance for clocks running ahead: change '5 minutes' to change it.
insert into run_context (run_at, future_limit, watermark, watermark_utc, skip_before, timestamp_format, feed)
select cast(:now as text),
       to_char(cast(:now as timestamp) + interval '5 minutes', 'YYYY-MM-DD"T"HH24:MI:SS'),
       cast(:watermark as text),
       pg_temp.utc_text(cast(:watermark as text)),
       case when pg_temp.utc_text(cast(:watermark as text)) = cast(:watermark as text)
            then to_char(cast(cast(:watermark as text) as timestamp)
                         - make_interval(secs => cast(:lookback_seconds as integer)),
                         'YYYY-MM-DD"T"HH24:MI:SS')
       end,
       cast(:timestamp_format as text),
       cast(:feed as text);

drop view if exists records_typed;
-- "offset 0" keeps PostgreSQL from copying these expressions into each place
-- stage 05 uses a column: each is computed once per record.
create temp view records_typed as
select records.*,
       case when (select timestamp_format from run_context) = 'unix_seconds'
                then case when _ts_text ~ '^[0-9]{1,11}$'
                              then to_char(to_timestamp(cast(_ts_text as bigint)) at time zone 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS') end
            else pg_temp.utc_text(_ts_text)
       end as _ts
  from (select feed_changes.*, landing._source, landing._line_no, landing._problem,
               -- the delivery of its file (run/record_deliveries.sql): with one file,
               -- one look-up for the run; a replay's record keeps the delivery of
               -- the file it was rejected from
               case when (select count(*) from landing_file) = 1 then (select delivery_id from landing_file)
                    when (select count(*) from landing_file) > 1
                         then (select delivery_id from landing_file where landing_file.source = landing._source)
                    else (select run_file.delivery_id
                            from dead_letter
                            join run_file on run_file.run_id = dead_letter.run_id
                                         and run_file.source = dead_letter.source
                           where dead_letter.source = landing._source
                             and dead_letter.line_no = landing._line_no
                             and dead_letter.raw = landing._raw
                             and dead_letter.status = 'open'
                             and dead_letter.feed = (select feed from run_context)
                           order by dead_letter.dead_letter_id desc
                           limit 1)
               end as _delivery
          from feed_changes
          join landing on landing._record_no = feed_changes._record_no
        offset 0) as records
offset 0;
