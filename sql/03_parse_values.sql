-- How this engine reads time and numbers: the one stage written in SQLite's own
-- dialect (03_parse_values.postgresql.sql is PostgreSQL's; keep the two in step).
-- Reads: landing, :now, :watermark.
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         landing_typed (a view: landing plus event_ts_utc, NULL when not a real
--         time, and amount_is_number).
--
-- Accepted: YYYY-MM-DD, optionally [T ]HH:MM[:SS[.fff]], optionally Z or +HH:MM/-HH:MM.
-- Stored: UTC 'YYYY-MM-DDTHH:MM:SS'; offsets are converted, a naive time is UTC,
-- fractions of a second are dropped.
--
-- SQLite's date functions are lenient: they accept 'now', bare times and day
-- numbers, and 30 February or 24:00 (printed as given by some versions,
-- moved to another day by others). So the local date and minute, rewritten by
-- SQLite after a '+0 seconds' round trip, must equal the text as written:
-- that holds only for a real calendar time, on every SQLite version. Year 0
-- is refused too: PostgreSQL has no year 0.

delete from run_context;  -- one row: this run's (the table is declared in 01)

-- The tolerance for clocks running ahead: change '+5 minutes' to change it.
insert into run_context (run_at, future_limit, watermark, watermark_utc, skip_before)
select :now,
       strftime('%Y-%m-%dT%H:%M:%S', :now, '+5 minutes'),
       :watermark,
       case when substr(:watermark, 1, 4) <> '0000'
             and strftime(case when length(:watermark) >= 16 then '%Y-%m-%dT%H:%M' else '%Y-%m-%d' end,
                          substr(:watermark, 1, 16), '+0 seconds')
                 = replace(substr(:watermark, 1, 16), ' ', 'T')
            then strftime('%Y-%m-%dT%H:%M:%S', :watermark)
       end,
       strftime('%Y-%m-%dT%H:%M:%S', :watermark, '-' || :lookback_seconds || ' seconds');

drop view if exists landing_typed;
create temp view landing_typed as
select landing.*,
       case when substr(ts, 1, 4) = '0000' then null
            -- the common, already normalised form: one call checks and converts
            when length(ts) = 19 and substr(ts, 11, 1) = 'T'
                then case when strftime('%Y-%m-%dT%H:%M:%S', ts, '+0 seconds') = ts then ts end
            when strftime(case when length(ts) >= 16 then '%Y-%m-%dT%H:%M' else '%Y-%m-%d' end,
                          substr(ts, 1, 16), '+0 seconds')
                 = replace(substr(ts, 1, 16), ' ', 'T')
                then strftime('%Y-%m-%dT%H:%M:%S', ts)
       end as event_ts_utc,
       -- digits, then optionally '.' and digits, after an optional sign:
       -- 12, -3.5, .5, 7. (no exponents, no thousands separators)
       (number <> '' and number not glob '*[^0-9.]*' and number glob '*[0-9]*'
        and number not glob '*.*.*') as amount_is_number
  from (select landing.*, trim(event_ts) as ts,
               case when substr(trim(amount), 1, 1) in ('+', '-') then substr(trim(amount), 2)
                    else trim(amount) end as number
          from landing) as landing;
