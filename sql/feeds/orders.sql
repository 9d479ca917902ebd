-- The worked example of a feed of your own: a shop's orders, one row per
-- (store_id, order_id) in the table orders. Its key has two columns, its
-- timestamp is Unix epoch seconds, and total is a decimal.
--
--   python runner.py data/orders_sample.csv --feed orders
--
-- It says what events.sql says, for another record; the sections and the
-- names starting with '_' are explained there.

-- section: declare
select 'orders'                                            as feed,
       'orders'                                            as target,
       'store_id, order_id'                                as key_columns,
       'updated_at'                                        as timestamp_column,
       'unix_seconds'                                      as timestamp_format,
       'store_id, order_id, updated_at, customer, total'   as input_columns;

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
) without rowid;  -- SQLite's (dropped on PostgreSQL: see events.sql)

-- section: records
-- A key of several columns is known by its text form, key_text(...): a JSON
-- array of the values in key order, the same on both engines (["S1","O-1001"]),
-- NULL when a value is missing.
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       key_text(store_id, order_id) as _key,
       updated_at as _ts_text,
       store_id,
       order_id,
       customer,
       cast(typed_decimal(total, 15) as numeric) as total,
       -- 12, 12.5, -3.25 (a refund): digits with at most one '.', and no '+'
       case when total is null then 'total is missing'
            when typed_decimal(total, null) is null or substr(total, 1, 1) = '+'
                 then 'total is not a decimal number: ' || total
            when typed_decimal(total, 15) is null then 'total has more than 15 digits: ' || total
       end as _invalid
  from (select _record_no,
               nullif(trim(store_id), '')   as store_id,
               nullif(trim(order_id), '')   as order_id,
               nullif(trim(updated_at), '') as updated_at,
               nullif(trim(customer), '')   as customer,
               nullif(trim(total), '')      as total
          from landing) as fields;

-- section: versions
drop view if exists stored_versions;
create temp view stored_versions as
select records._record_no, stored.updated_at as _ts,
       case when stored.customer is not distinct from records.customer
             and stored.total is not distinct from records.total then 1 else 0 end as _same,
       stored.run_id as _run_id, stored.source as _source
  from run_batch as records
  join orders as stored on stored.store_id = records.store_id
                       and stored.order_id = records.order_id
 where records._outcome in ('loaded', 'skipped');  -- (skipped: for late data, 07)

-- section: upsert
insert into orders (store_id, order_id, updated_at, customer, total, run_id, source, line_no)
select store_id, order_id, _ts, customer, total, :run_id, _source, _line_no
  from run_batch
 where _outcome = 'loaded'
on conflict (store_id, order_id) do update
   set updated_at = excluded.updated_at,
       customer   = excluded.customer,
       total      = excluded.total,
       run_id     = excluded.run_id,
       source     = excluded.source,
       line_no    = excluded.line_no
 where excluded.updated_at > orders.updated_at;

-- section: trace
-- :key is the key's text form; key_text makes the stored keys' the same way.
select * from orders where key_text(store_id, order_id) = :key;
