-- PostgreSQL's sections of orders.sql: only those that differ.

-- section: target
create table if not exists orders (
    store_id    text not null,
    order_id    text not null,
    updated_at  text not null,      -- UTC, 'YYYY-MM-DDTHH:MM:SS' (the feed sends epoch seconds)
    customer    text,
    total       numeric not null,
    run_id      integer not null,   -- the run that last wrote this row,
    source      text not null,      -- and the file and line it came from
    line_no     integer not null,
    primary key (store_id, order_id)
);
