-- Gives the landed text its meaning: takes each field as stage 03 trimmed and
-- read it, and names the first rule a record breaks.
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
select _record_no, _source, _line_no, _raw, _event_id_text, _event_ts_utc, _user_id_text,
       case when _amount_is_number then cast(_amount_text as numeric) end,
       case
           when _problem is not null     then _problem
           when _event_id_text is null   then 'event_id is missing'
           when _event_ts_text is null   then 'event_ts is missing'
           when _event_ts_utc is null    then 'event_ts is not a valid timestamp: ' || _event_ts_text
           when _event_ts_utc > (select future_limit from run_context)
                                         then 'event_ts is in the future: ' || _event_ts_text
           when _amount_text is null     then 'amount is missing'
           when not _amount_is_number    then 'amount is not a number: ' || _amount_text
           -- SQLite keeps numbers as 64-bit floats: more digits would be silently rounded
           when length(_amount_text) > 15
                and length(replace(replace(replace(_amount_text, '.', ''), '-', ''), '+', '')) > 15
                                         then 'amount has more than 15 digits: ' || _amount_text
       end
  from landing_typed;

update run_batch set outcome = 'rejected', detail = reason where reason is not null;
