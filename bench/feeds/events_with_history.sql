-- The benchmark's events with version history (bench/version_history.py): sql/feeds/events.sql
-- with 'on' as history, a versions section that compares values (_same and the stored row's
-- provenance, like events_with_deletes.sql's), events_with_history_history in the target section
-- and a history section modelled on sql/feeds/prices.sql's (values ranked by user_id, amount).
-- A feed and table of its own, so it never mixes with events. PostgreSQL's target section is in
-- events_with_history.postgresql.sql beside it.

-- section: declare
select 'events_with_history'                 as feed,
       'events_with_history'                 as target,
       'event_id'                            as key_columns,
       'event_ts'                            as timestamp_column,
       'iso8601'                             as timestamp_format,
       'event_id, event_ts, user_id, amount' as input_columns,
       'on'                                  as history;

-- section: target
create table if not exists events_with_history (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,
    source    text not null,
    line_no   integer not null
) without rowid;

-- every version of each event (history = 'on'): as prices_history in sql/feeds/prices.sql
create table if not exists events_with_history_history (
    event_id    text not null,
    event_ts    text not null,
    user_id     text,
    amount      numeric not null,
    run_id      integer not null,
    source      text not null,
    line_no     integer not null,
    valid_from  text not null,      -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    valid_to    text,
    primary key (event_id, valid_from)
) without rowid;
-- one current window per key
create unique index if not exists events_with_history_history_current on events_with_history_history (event_id)
 where valid_to is null;

-- started from the target's rows when it is turned on (only then)
insert into events_with_history_history (event_id, event_ts, user_id, amount, run_id, source, line_no, valid_from, valid_to)
select event_id, event_ts, user_id, amount, run_id, source, line_no, event_ts, null
  from events_with_history
 where :history = 'on'
   and not exists (select 1 from feeds where feed = :feed and history_through is not null);

-- section: records
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       event_id as _key,
       event_ts as _ts_text,
       event_id,
       user_id,
       case when amount_is = 'a number' then cast(amount as numeric) end as amount,
       case amount_is
            when 'missing' then 'amount is missing'
            when 'not a number' then 'amount is not a number: ' || amount
            -- SQLite keeps numbers as 64-bit floats: more digits would be silently rounded
            else case when length(amount) > 15
                           and length(replace(replace(replace(amount, '.', ''), '-', ''), '+', '')) > 15
                      then 'amount has more than 15 digits: ' || amount end
       end as _invalid
  from (select _record_no,
               nullif(trim(event_id), '') as event_id,
               nullif(trim(event_ts), '') as event_ts,
               nullif(trim(user_id), '')  as user_id,
               trim(amount)               as amount,
               -- a number: digits, then optionally '.' and digits, after an optional
               -- sign: 12, -3.5, .5, 7. (no exponents, no thousands separators).
               -- The common form (digits and at most one '.') takes one call.
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
  join events_with_history as stored on stored.event_id = records.event_id
 where records._outcome in ('loaded', 'skipped');

-- section: upsert
insert into events_with_history (event_id, event_ts, user_id, amount, run_id, source, line_no)
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
 where excluded.event_ts > events_with_history.event_ts;

-- section: history
-- As prices.sql's, its columns renamed; the values compared: user_id, amount.
-- 1. The values of each changed key's versions: this run's records, and the windows
--    held from the one its fold starts in.
insert into history_rank (_key, _record_no, _valid_from, _valid_to, _run_id, _source, _line_no, _values)
select _key, _record_no, _valid_from, _valid_to, _run_id, _source, _line_no,
       dense_rank() over (partition by _key order by user_id, amount) as _values
  from (select changed._key, null as _record_no, held.valid_from as _valid_from, held.valid_to as _valid_to,
               held.run_id as _run_id, held.source as _source, held.line_no as _line_no, held.user_id, held.amount
          from history_key as changed
          join run_batch as record on record._record_no = changed._record_no
          join events_with_history_history as held on held.event_id = record.event_id
         where changed._after is null or held.valid_to is null or held.valid_to > changed._after
        union all
        select received._key, received._record_no, null, null, null, null, null, record.user_id, record.amount
          from history_candidate as received
          join history_key as changed on changed._key = received._key
          join run_batch as record on record._record_no = received._record_no) as versions;

-- 2. Their windows anew.
drop table if exists events_with_history_history_new;
create temp table events_with_history_history_new as
select record.event_id, span.valid_from as event_ts, record.user_id, record.amount,
       :run_id as run_id, record._source as source, record._line_no as line_no,
       span.valid_from, span.valid_to
  from history_window as span
  join run_batch as record on record._record_no = span._record_no
union all
select held.event_id, span.valid_from, held.user_id, held.amount,
       span._run_id, span._source, span._line_no,
       span.valid_from, span.valid_to
  from history_window as span
  join history_key as changed on changed._key = span._key
  join run_batch as record on record._record_no = changed._record_no
  join events_with_history_history as held on held.event_id = record.event_id
                                          and held.valid_from = span._old_valid_from;

-- 3. In place of the windows they replace (from where each key's fold starts).
delete from events_with_history_history
 where (event_id, valid_from) in (select held.event_id, held.valid_from
                                    from history_start as start
                                    join run_batch as record on record._record_no = start._record_no
                                    join events_with_history_history as held on held.event_id = record.event_id
                                                                           and held.valid_from >= start._start);
insert into events_with_history_history
select * from events_with_history_history_new;

-- section: trace
select * from events_with_history where event_id = :key;
-- its versions, oldest first (history = 'on')
select * from events_with_history_history where event_id = :key order by valid_from;
