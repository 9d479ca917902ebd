-- The benchmark's events with deletes (bench/bench.py --feed bench/feeds/events_with_deletes.sql
-- --deletes 0.1): sql/feeds/events.sql with an op column, I or U (an upsert) or D (a
-- deletion of the key), and a delete section modelled on sql/feeds/prices.sql's. A feed and
-- table of its own, so it never mixes with events. PostgreSQL's target section is in
-- events_with_deletes.postgresql.sql beside it.

-- section: declare
select 'events_with_deletes'                     as feed,
       'events_with_deletes'                     as target,
       'event_id'                                as key_columns,
       'event_ts'                                as timestamp_column,
       'iso8601'                                 as timestamp_format,
       'event_id, event_ts, user_id, amount, op' as input_columns,
       'hard'                                    as deletes;

-- section: target
create table if not exists events_with_deletes (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,
    source    text not null,
    line_no   integer not null
) without rowid;

-- section: records
-- As events.sql's, plus _delete; a deletion's other columns are neither read nor checked.
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       event_id as _key,
       event_ts as _ts_text,
       event_id,
       user_id,
       case when op <> 'D' and amount_is = 'a number' then cast(amount as numeric) end as amount,
       case when op = 'D' then 1 else 0 end as _delete,
       case when op is null then 'op is missing'
            when op not in ('I', 'U', 'D') then 'op is not I, U or D: ' || op
            when op = 'D' then null
            else case amount_is
                      when 'missing' then 'amount is missing'
                      when 'not a number' then 'amount is not a number: ' || amount
                      else case when length(amount) > 15
                                     and length(replace(replace(replace(amount, '.', ''), '-', ''), '+', '')) > 15
                                then 'amount has more than 15 digits: ' || amount end
                 end
       end as _invalid
  from (select _record_no,
               nullif(trim(event_id), '') as event_id,
               nullif(trim(event_ts), '') as event_ts,
               nullif(trim(user_id), '')  as user_id,
               nullif(trim(op), '')       as op,
               trim(amount)               as amount,
               case when trim(amount, '0123456789') in ('', '.') and amount not in ('', '.') then 'a number'
                    when nullif(trim(amount), '') is null then 'missing'
                    when trim(ltrim(trim(amount), '+-'), '0123456789') in ('', '.')
                         and ltrim(trim(amount), '+-') not in ('', '.')
                         and substr(trim(amount), 2, 1) not in ('+', '-') then 'a number'
                    else 'not a number'
               end as amount_is
          from landing) as fields;

-- section: versions
drop view if exists stored_versions;
create temp view stored_versions as
select records._record_no, stored.event_ts as _ts,
       case when stored.user_id is not distinct from records.user_id
             and stored.amount is not distinct from records.amount then 1 else 0 end as _same,
       stored.run_id as _run_id, stored.source as _source
  from run_batch as records
  join events_with_deletes as stored on stored.event_id = records.event_id
 where records._outcome in ('loaded', 'skipped');

-- section: upsert
insert into events_with_deletes (event_id, event_ts, user_id, amount, run_id, source, line_no)
select event_id, _ts, user_id, amount, :run_id, _source, _line_no
  from run_batch
 where _outcome = 'loaded'
on conflict (event_id) do update
   set event_ts = excluded.event_ts,
       user_id  = excluded.user_id,
       amount   = excluded.amount,
       run_id   = excluded.run_id,
       source   = excluded.source,
       line_no  = excluded.line_no
 where excluded.event_ts > events_with_deletes.event_ts;

-- section: delete
-- As prices.sql's: only a deletion newer than the stored row removes it.
delete from events_with_deletes
 where event_id in (select deleted.event_id
                      from run_batch as deleted
                      join events_with_deletes as stored on stored.event_id = deleted.event_id
                     where deleted._outcome = 'deleted'
                       and deleted._ts > stored.event_ts);

-- section: trace
select * from events_with_deletes where event_id = :key;
