-- How this engine reads time and numbers: the one stage written in SQLite's own
-- dialect (03_parse_values.postgresql.sql is PostgreSQL's; keep the two in step).
-- Reads: feed_changes (the feed's records: run/changes_*.sql), landing, :now, :watermark,
--        :timestamp_format (the feed's declaration).
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         records_typed (a view: the feed's records, landing's own columns, and
--         _ts, the record's timestamp as UTC text, NULL when not a real time).
--
-- Accepted (timestamp_format 'iso8601'): YYYY-MM-DD, optionally [T ]HH:MM[:SS[.fff]],
-- optionally Z or +HH:MM/-HH:MM. ('unix_seconds'): whole seconds since 1970, at
-- most 11 digits. Stored: UTC 'YYYY-MM-DDTHH:MM:SS'; offsets are converted, a
-- naive time is UTC, fractions of a second are dropped.
--
-- SQLite's date functions are lenient: they accept 'now', bare times and day
-- numbers, and 30 February or 24:00 (printed as given by some versions,
-- moved to another day by others). So the local date and minute, rewritten by
-- SQLite after a '+0 seconds' round trip, must equal the text as written:
-- that holds only for a real calendar time, on every SQLite version. Year 0
-- is refused too: PostgreSQL has no year 0.

delete from run_context;  -- one row: this run's (the table is declared in 01)

-- The tolerance for clocks running ahead: change '+5 minutes' to change it.
insert into run_context (run_at, future_limit, watermark, watermark_utc, skip_before, timestamp_format, feed)
select :now,
       strftime('%Y-%m-%dT%H:%M:%S', :now, '+5 minutes'),
       :watermark,
       case when substr(:watermark, 1, 4) <> '0000'
             and strftime(case when length(:watermark) >= 16 then '%Y-%m-%dT%H:%M' else '%Y-%m-%d' end,
                          substr(:watermark, 1, 16), '+0 seconds')
                 = replace(substr(:watermark, 1, 16), ' ', 'T')
            then strftime('%Y-%m-%dT%H:%M:%S', :watermark)
       end,
       strftime('%Y-%m-%dT%H:%M:%S', :watermark, '-' || :lookback_seconds || ' seconds'),
       :timestamp_format,
       :feed;

drop view if exists records_typed;
-- Every expression here is computed once per record: "limit -1 offset 0" keeps
-- SQLite from copying them into each place stage 05 uses a column (it streams
-- the rows instead). The common form takes one cheap test first; anything else
-- (an offset, a date alone) the full one. At a million records, SQL function
-- calls are most of what this stage costs.
create temp view records_typed as
select records.*,
       case when (select timestamp_format from run_context) = 'unix_seconds'
                then case when _ts_text not glob '*[^0-9]*' and length(_ts_text) <= 11
                              then strftime('%Y-%m-%dT%H:%M:%S', _ts_text, 'unixepoch') end
            -- (">= '0001'" also sends NULL to the full check)
            when _ts_text >= '0001'  -- already 'YYYY-MM-DDTHH:MM:SS', or with a space
                 and datetime(_ts_text, '+0 seconds') = replace(_ts_text, 'T', ' ')
                then replace(_ts_text, ' ', 'T')
            when substr(_ts_text, 1, 4) = '0000' then null
            when strftime(case when length(_ts_text) >= 16 then '%Y-%m-%dT%H:%M' else '%Y-%m-%d' end,
                          substr(_ts_text, 1, 16), '+0 seconds')
                 = replace(substr(_ts_text, 1, 16), ' ', 'T')
                then strftime('%Y-%m-%dT%H:%M:%S', _ts_text)
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
         limit -1 offset 0) as records
 limit -1 offset 0;
