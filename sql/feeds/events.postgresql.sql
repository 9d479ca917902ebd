-- PostgreSQL's sections of events.sql: only those that differ.

-- section: target
-- As in events.sql, without SQLite's WITHOUT ROWID (a PostgreSQL table is a
-- heap beside its primary key's index).
create table if not exists events (
    event_id  text primary key,
    event_ts  text not null,        -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    user_id   text,
    amount    numeric not null,
    run_id    integer not null,     -- the run that last wrote this row ...
    source    text not null,        -- ... and the file and line it came from
    line_no   integer not null
);
