-- How this engine reads time and numbers: PostgreSQL's version of 03_parse_values.sql.
-- Same contract, same accepted formats; keep the two in step.
-- Reads: landing, :now, :watermark.
-- Writes: run_context (the run's clock limits and the watermark, read as UTC),
--         landing_typed (a view: landing plus each field trimmed, NULL when empty,
--         _event_ts_utc, NULL when not a real time, and _amount_is_number).
--
-- A cast of a bad timestamp raises an error in PostgreSQL instead of giving
-- NULL, so the shape is checked with a regular expression first and an
-- impossible day (30 February) by arithmetic, before anything is cast.

create or replace function pg_temp.utc_text(v text) returns text
language sql stable as $$
select case
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
insert into run_context (run_at, future_limit, watermark, watermark_utc, skip_before)
select cast(:now as text),
       to_char(cast(:now as timestamp) + interval '5 minutes', 'YYYY-MM-DD"T"HH24:MI:SS'),
       cast(:watermark as text),
       pg_temp.utc_text(cast(:watermark as text)),
       case when pg_temp.utc_text(cast(:watermark as text)) = cast(:watermark as text)
            then to_char(cast(cast(:watermark as text) as timestamp)
                         - make_interval(secs => cast(:lookback_seconds as integer)),
                         'YYYY-MM-DD"T"HH24:MI:SS')
       end;

drop view if exists landing_typed;
-- "offset 0" keeps PostgreSQL from copying these expressions into each place
-- stage 05 uses a column: each is computed once per record.
-- The derived columns start with '_', as landing's own do: no input column can.
create temp view landing_typed as
select landing.*,
       nullif(trim(event_id), '') as _event_id_text,
       nullif(trim(event_ts), '') as _event_ts_text,
       nullif(trim(user_id), '')  as _user_id_text,
       nullif(trim(amount), '')   as _amount_text,
       pg_temp.utc_text(trim(event_ts)) as _event_ts_utc,
       -- digits, then optionally '.' and digits, after an optional sign:
       -- 12, -3.5, .5, 7. (no exponents, no thousands separators)
       coalesce(trim(amount) ~ '^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$', false) as _amount_is_number
  from landing
offset 0;
