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

create table if not exists prices_history (
    store_id    text not null,
    sku         text not null,
    updated_at  text not null,
    price       numeric not null,
    run_id      integer not null,
    source      text not null,
    line_no     integer not null,
    valid_from  text not null,      -- UTC, 'YYYY-MM-DDTHH:MM:SS'
    valid_to    text,
    primary key (store_id, sku, valid_from)
);
create unique index if not exists prices_history_current on prices_history (store_id, sku)
 where valid_to is null;

insert into prices_history (store_id, sku, updated_at, price, run_id, source, line_no, valid_from, valid_to)
select store_id, sku, updated_at, price, run_id, source, line_no, updated_at, null
  from prices
 where :history = 'on'
   and not exists (select 1 from feeds where feed = :feed and history_through is not null);
