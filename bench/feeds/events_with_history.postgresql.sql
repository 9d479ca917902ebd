-- PostgreSQL's sections of events_with_history.sql: only those that differ.

-- section: target
create table if not exists events_with_history (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,
    source    text not null,
    line_no   integer not null
);

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
);
create unique index if not exists events_with_history_history_current on events_with_history_history (event_id)
 where valid_to is null;

insert into events_with_history_history (event_id, event_ts, user_id, amount, run_id, source, line_no, valid_from, valid_to)
select event_id, event_ts, user_id, amount, run_id, source, line_no, event_ts, null
  from events_with_history
 where :history = 'on'
   and not exists (select 1 from feeds where feed = :feed and history_through is not null);
