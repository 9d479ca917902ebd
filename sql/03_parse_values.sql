-- How this engine reads time and numbers: the one stage written in SQLite's own
-- dialect (03_parse_values.postgresql.sql is PostgreSQL's; keep the two in step).
-- Reads: landing, :now, :watermark.
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         landing_typed (a view: landing plus each field trimmed, NULL when empty,
--         _event_ts_utc, NULL when not a real time, and _amount_is_number).
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
-- Every expression here is computed once per record: "limit -1 offset 0" keeps
-- SQLite from copying them into each place stage 05 uses a column (it streams
-- the rows instead). The common forms take one cheap test first; anything else
-- (leading spaces, an offset, a sign) the full one. At a million records, SQL
-- function calls are most of what this stage costs.
-- The derived columns start with '_', as landing's own do: no input column can.
create temp view landing_typed as
select landing.*,
       nullif(trim(event_id), '') as _event_id_text,
       nullif(trim(event_ts), '') as _event_ts_text,
       nullif(trim(user_id), '')  as _user_id_text,
       nullif(trim(amount), '')   as _amount_text,
       -- (">= '0001'" also sends NULL and leading spaces to the full check)
       case when event_ts >= '0001'  -- already 'YYYY-MM-DDTHH:MM:SS', or with a space
                 and datetime(event_ts, '+0 seconds') = replace(event_ts, 'T', ' ')
                then replace(event_ts, ' ', 'T')
            when substr(_ts, 1, 4) = '0000' then null
            when strftime(case when length(_ts) >= 16 then '%Y-%m-%dT%H:%M' else '%Y-%m-%d' end,
                          substr(_ts, 1, 16), '+0 seconds')
                 = replace(substr(_ts, 1, 16), ' ', 'T')
                then strftime('%Y-%m-%dT%H:%M:%S', _ts)
       end as _event_ts_utc,
       -- digits, then optionally '.' and digits, after an optional sign:
       -- 12, -3.5, .5, 7. (no exponents, no thousands separators)
       case when amount not glob '*[^0-9.]*' and amount glob '*[0-9]*' and amount not glob '*.*.*'
                then 1  -- unsigned, no spaces: the common form
            else (_number <> '' and _number not glob '*[^0-9.]*' and _number glob '*[0-9]*'
                  and _number not glob '*.*.*')
       end as _amount_is_number
  from (select landing.*, trim(event_ts) as _ts,
               case when substr(trim(amount), 1, 1) in ('+', '-') then substr(trim(amount), 2)
                    else trim(amount) end as _number
          from landing) as landing
 limit -1 offset 0;
