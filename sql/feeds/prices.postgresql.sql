-- PostgreSQL's sections of prices.sql: only those that differ.

-- section: target
create table if not exists prices (
    store_id    text not null,
    sku         text not null,
    updated_at  text not null,      -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    price       numeric not null,
    run_id      integer not null,   -- the run that last wrote this row,
    source      text not null,      -- and the file and line it came from
    line_no     integer not null,
    primary key (store_id, sku)
);
