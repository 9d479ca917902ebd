-- PostgreSQL's sections of events_with_deletes.sql: only those that differ.

-- section: target
create table if not exists events_with_deletes (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,
    source    text not null,
    line_no   integer not null
);
