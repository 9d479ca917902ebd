-- Gives the landed text its meaning: trims every field, takes event_ts and the
-- amount as read by stage 03, and names the first rule a record breaks.
-- Reads: landing_typed (landing, one text row per input record, plus event_ts_utc), run_context.
-- Writes: run_batch, one row per input record; outcome 'rejected' or NULL (still undecided).

drop table if exists run_batch;
create temp table run_batch (
    record_no  integer primary key,  -- input order across the run: the later record wins a tie
    source     text not null,
    line_no    integer not null,
    raw        text not null,
    event_id   text,
    event_ts   text,
    user_id    text,
    amount     numeric,
    reason     text,                 -- why it was rejected
    outcome    text,                 -- rejected | skipped | superseded | stale | loaded
    detail     text                  -- what lineage should say about the outcome
);

-- "materialized": each expensive expression (the timestamp above all) is
-- computed once per record, instead of once per place the CASE below uses it.
with typed as materialized (
    select _record_no as record_no, _source as source, _line_no as line_no,
           _raw as raw, _problem as problem,
           nullif(trim(event_id), '') as event_id,
           nullif(trim(event_ts), '') as event_ts_text,
           event_ts_utc as event_ts,
           nullif(trim(user_id), '')  as user_id,
           nullif(trim(amount), '')   as amount_text,
           amount_is_number
      from landing_typed
)
insert into run_batch (record_no, source, line_no, raw, event_id, event_ts, user_id, amount, reason)
select record_no, source, line_no, raw, event_id, event_ts, user_id,
       case when amount_is_number then cast(amount_text as numeric) end,
       case
           when problem is not null    then problem
           when event_id is null       then 'event_id is missing'
           when event_ts_text is null  then 'event_ts is missing'
           when event_ts is null       then 'event_ts is not a valid timestamp: ' || event_ts_text
           when event_ts > (select future_limit from run_context)
                                       then 'event_ts is in the future: ' || event_ts_text
           when amount_text is null    then 'amount is missing'
           when not amount_is_number   then 'amount is not a number: ' || amount_text
           -- SQLite keeps numbers as 64-bit floats: more digits would be silently rounded
           when length(replace(replace(replace(amount_text, '.', ''), '-', ''), '+', '')) > 15
                                       then 'amount has more than 15 digits: ' || amount_text
       end
  from typed;

update run_batch set outcome = 'rejected', detail = reason where reason is not null;
