-- Gives the landed text its meaning: trims every field, takes event_ts and the
-- amount as read by stage 03, and names the first rule a record breaks.
-- Reads: landing_typed (03: landing, one text row per input record, typed), run_context.
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

insert into run_batch (record_no, source, line_no, raw, event_id, event_ts, user_id, amount, reason)
select _record_no, _source, _line_no, _raw, event_id_text, event_ts_utc, user_id_text,
       case when amount_is_number then cast(amount_text as numeric) end,
       case
           when _problem is not null   then _problem
           when event_id_text is null  then 'event_id is missing'
           when event_ts_text is null  then 'event_ts is missing'
           when event_ts_utc is null   then 'event_ts is not a valid timestamp: ' || event_ts_text
           when event_ts_utc > (select future_limit from run_context)
                                       then 'event_ts is in the future: ' || event_ts_text
           when amount_text is null    then 'amount is missing'
           when not amount_is_number   then 'amount is not a number: ' || amount_text
           -- SQLite keeps numbers as 64-bit floats: more digits would be silently rounded
           when length(amount_text) > 15
                and length(replace(replace(replace(amount_text, '.', ''), '-', ''), '+', '')) > 15
                                       then 'amount has more than 15 digits: ' || amount_text
       end
  from landing_typed;

update run_batch set outcome = 'rejected', detail = reason where reason is not null;
