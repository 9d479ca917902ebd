-- The worked example of a feed that deletes: a shop's shelf prices, one row per
-- (store_id, sku) in the table prices. Each record says what changed: op I or U
-- (the price of a sku, new or changed: both are upserts) or D (the sku left the
-- shelf: a deletion, which removes its row).
--
--   python runner.py data/prices_sample.csv --feed prices
--
-- It says what events.sql and orders.sql say, plus how deletions are told and
-- applied (docs/feeds.md, Deletes): _delete in the records section, and the
-- delete section.

-- section: declare
select 'prices'                                  as feed,
       'prices'                                  as target,
       'store_id, sku'                           as key_columns,
       'updated_at'                              as timestamp_column,
       'iso8601'                                 as timestamp_format,
       'store_id, sku, updated_at, price, op'    as input_columns,
       -- 'hard': a deletion removes the row; 'soft': it marks it, in the column
       -- named by deleted_column; 'none' (the default): no record is a deletion
       'hard'                                    as deletes,
       -- 'apply': a shop re-issues a file with restated prices at the same
       -- updated_at; the later delivery wins. 'report' (the default): such a
       -- record is counted differing and left out
       'apply'                                   as corrections;

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
) without rowid;  -- SQLite's; prices.postgresql.sql has PostgreSQL's (see events.sql)

-- section: records
-- _delete: 1 for a record that deletes its key, else 0. A deletion carries the
-- key and its version; its other columns are not read (nor checked): they never
-- overwrite the stored ones.
drop view if exists feed_records;
create temp view feed_records as
select _record_no,
       key_text(store_id, sku) as _key,
       updated_at as _ts_text,
       store_id,
       sku,
       case when op <> 'D' and price_is = 'a number' then cast(price as numeric) end as price,
       case when op = 'D' then 1 else 0 end as _delete,
       case when op is null then 'op is missing'
            when op not in ('I', 'U', 'D') then 'op is not I, U or D: ' || op
            when op = 'D' then null
            when price_is = 'missing' then 'price is missing'
            when price_is = 'not a number' then 'price is not a decimal number: ' || price
            when length(replace(replace(price, '.', ''), '-', '')) > 15
                 then 'price has more than 15 digits: ' || price
       end as _invalid
  from (select _record_no,
               nullif(trim(store_id), '')   as store_id,
               nullif(trim(sku), '')        as sku,
               nullif(trim(updated_at), '') as updated_at,
               nullif(trim(op), '')         as op,   -- as written: 'd' is not 'D'
               trim(price)                  as price,
               -- 0.5, 12, 3.99: digits with at most one '.' (a price is never negative)
               case when nullif(trim(price), '') is null then 'missing'
                    when trim(trim(price), '0123456789') in ('', '.')
                         and trim(price) not in ('', '.') then 'a number'
                    else 'not a number'
               end as price_is
          from landing) as fields;

-- section: versions
drop view if exists stored_versions;
create temp view stored_versions as
select records._record_no, stored.updated_at as _ts,
       case when stored.price is not distinct from records.price then 1 else 0 end as _same,
       stored.run_id as _run_id, stored.source as _source
  from run_batch as records
  join prices as stored on stored.store_id = records.store_id
                       and stored.sku = records.sku
 where records._outcome in ('loaded', 'skipped');  -- (skipped: for late data, 07)

-- section: upsert
insert into prices (store_id, sku, updated_at, price, run_id, source, line_no)
select store_id, sku, _ts, price, :run_id, _source, _line_no
  from run_batch
 where _outcome = 'loaded'
on conflict (store_id, sku) do update
   set updated_at = excluded.updated_at,
       price      = excluded.price,
       run_id     = excluded.run_id,
       source     = excluded.source,
       line_no    = excluded.line_no
 -- (>=: at an equal version, a later delivery's correction, which 09 decided on)
 where excluded.updated_at >= prices.updated_at;

-- section: delete
-- Removes the row of each key this run deleted (_outcome 'deleted'), guarded like
-- the upsert: only a deletion newer than the stored row (or, at its version, a
-- later delivery's: 09) removes it. The loader
-- remembers every deletion itself (its tombstone table): an older record of the
-- key arriving later is stale. (The keys are looked up from run_batch, not the
-- other way round: the target may be large.)
delete from prices
 where (store_id, sku) in (select deleted.store_id, deleted.sku
                             from run_batch as deleted
                             join prices as stored on stored.store_id = deleted.store_id
                                                  and stored.sku = deleted.sku
                            where deleted._outcome = 'deleted'
                              and deleted._ts >= stored.updated_at);  -- (=: a correction, as above)

-- section: trace
select * from prices where key_text(store_id, sku) = :key;
