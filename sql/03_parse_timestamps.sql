-- How this engine reads time: the one stage written in SQLite's own dialect
-- (03_parse_timestamps.postgresql.sql is PostgreSQL's; keep the two in step).
-- Reads: landing, :now, :watermark.
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         landing_typed (a view: landing plus event_ts_utc, NULL when not a real time).
--
-- Accepted: YYYY-MM-DD, optionally [T ]HH:MM[:SS[.fff]], optionally Z or +HH:MM/-HH:MM.
-- Stored: UTC 'YYYY-MM-DDTHH:MM:SS'; offsets are converted, a naive time is UTC,
-- fractions of a second are dropped.
--
-- SQLite's date functions need three guards: they accept 'now', bare times and
-- day numbers (hence the dashes check), they print 30 February as given (hence
-- the round trip through '+0 seconds', which moves an impossible date to
-- another day), and they accept year 0, which PostgreSQL has not.

drop table if exists run_context;
create temp table run_context (
    run_at          text,   -- the run's clock
    future_limit    text,   -- a timestamp later than this is "in the future"
    watermark       text,   -- as stored
    watermark_utc   text    -- the same, if it is a real time; else NULL
);

-- The tolerance for clocks running ahead: change '+5 minutes' to change it.
insert into run_context (run_at, future_limit, watermark, watermark_utc)
select :now,
       strftime('%Y-%m-%dT%H:%M:%S', :now, '+5 minutes'),
       :watermark,
       case when substr(:watermark, 5, 1) = '-' and substr(:watermark, 8, 1) = '-'
             and substr(:watermark, 1, 4) <> '0000'
             and datetime(substr(:watermark, 1, 16), '+0 seconds') = datetime(substr(:watermark, 1, 16))
            then strftime('%Y-%m-%dT%H:%M:%S', :watermark)
       end;

drop view if exists landing_typed;
create temp view landing_typed as
select landing.*,
       case when substr(ts, 5, 1) = '-' and substr(ts, 8, 1) = '-'
             and substr(ts, 1, 4) <> '0000'
             and datetime(substr(ts, 1, 16), '+0 seconds') = datetime(substr(ts, 1, 16))
            then strftime('%Y-%m-%dT%H:%M:%S', ts)
       end as event_ts_utc
  from (select landing.*, trim(event_ts) as ts from landing) as landing;
