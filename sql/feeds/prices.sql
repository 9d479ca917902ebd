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
       'apply'                                   as corrections,
       -- 'on': every version kept in prices_history, valid_from to valid_to (the
       -- history section); 'off' (the default): the target holds the newest only
       'on'                                      as history;

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
) without rowid;  -- SQLite's (dropped on PostgreSQL: see events.sql)

-- Every version of each price (history = 'on'): the target's columns, each window's
-- from the version that opened it, and when it held: from valid_from (that version)
-- until valid_to (the next version with another price, or the deletion; NULL while
-- current). A price on a date: where :t >= valid_from and (valid_to is null or :t < valid_to).
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
) without rowid;
-- one current window per key
create unique index if not exists prices_history_current on prices_history (store_id, sku)
 where valid_to is null;

-- The history starts from the rows prices holds when it is turned on (only then:
-- while feeds says no run has kept it; loader/version_history.py).
insert into prices_history (store_id, sku, updated_at, price, run_id, source, line_no, valid_from, valid_to)
select store_id, sku, updated_at, price, run_id, source, line_no, updated_at, null
  from prices
 where :history = 'on'
   and not exists (select 1 from feeds where feed = :feed and history_through is not null);

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
       case when op <> 'D' then cast(typed_decimal(price, 15) as numeric) end as price,
       case when op = 'D' then 1 else 0 end as _delete,
       case when op is null then 'op is missing'
            when op not in ('I', 'U', 'D') then 'op is not I, U or D: ' || op
            when op = 'D' then null
            when price is null then 'price is missing'
            -- 0.5, 12, 3.99: digits with at most one '.' (a price is never negative: no sign)
            when typed_decimal(price, null) is null or substr(price, 1, 1) in ('+', '-')
                 then 'price is not a decimal number: ' || price
            when typed_decimal(price, 15) is null then 'price has more than 15 digits: ' || price
       end as _invalid
  from (select _record_no,
               nullif(trim(store_id), '')   as store_id,
               nullif(trim(sku), '')        as sku,
               nullif(trim(updated_at), '') as updated_at,
               nullif(trim(op), '')         as op,   -- as written: 'd' is not 'D'
               nullif(trim(price), '')      as price
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

-- section: history
-- Writes prices_history for the versions this run received (history = 'on'). The
-- loader has found which keys' windows change and from which version on
-- (sql/run/version_history_received.sql: history_key, history_candidate); this section
-- says which values are equal, and writes the windows the loader's fold makes of them
-- (history_window). To compare another column, add it to the order by below.
--
-- 1. The values of each changed key's versions: this run's records, and the windows
--    held from the one its fold starts in; _values equal for equal prices.
insert into history_rank (_key, _record_no, _valid_from, _valid_to, _run_id, _source, _line_no, _values)
select _key, _record_no, _valid_from, _valid_to, _run_id, _source, _line_no,
       dense_rank() over (partition by _key order by price) as _values
  from (select changed._key, null as _record_no, held.valid_from as _valid_from, held.valid_to as _valid_to,
               held.run_id as _run_id, held.source as _source, held.line_no as _line_no, held.price
          from history_key as changed
          join run_batch as record on record._record_no = changed._record_no
          join prices_history as held on held.store_id = record.store_id and held.sku = record.sku
         where changed._after is null or held.valid_to is null or held.valid_to > changed._after
        union all
        select received._key, received._record_no, null, null, null, null, null, record.price
          from history_candidate as received
          join history_key as changed on changed._key = received._key
          join run_batch as record on record._record_no = received._record_no) as versions;

-- 2. Their windows anew: values from this run's record, or from the window held that
--    the version was part of; the timestamp and provenance of the version that opens it.
drop table if exists prices_history_new;
create temp table prices_history_new as
select record.store_id, record.sku, span.valid_from as updated_at, record.price,
       :run_id as run_id, record._source as source, record._line_no as line_no,
       span.valid_from, span.valid_to
  from history_window as span
  join run_batch as record on record._record_no = span._record_no
union all
select held.store_id, held.sku, span.valid_from, held.price,
       span._run_id, span._source, span._line_no,
       span.valid_from, span.valid_to
  from history_window as span
  join history_key as changed on changed._key = span._key
  join run_batch as record on record._record_no = changed._record_no
  join prices_history as held on held.store_id = record.store_id and held.sku = record.sku
                             and held.valid_from = span._old_valid_from;

-- 3. In place of the windows they replace (from where each key's fold starts).
delete from prices_history
 where (store_id, sku, valid_from) in (select held.store_id, held.sku, held.valid_from
                                         from history_start as start
                                         join run_batch as record on record._record_no = start._record_no
                                         join prices_history as held on held.store_id = record.store_id
                                                                    and held.sku = record.sku
                                                                    and held.valid_from >= start._start);
insert into prices_history
select * from prices_history_new;

-- section: trace
select * from prices where key_text(store_id, sku) = :key;
-- its versions, oldest first (history = 'on')
select * from prices_history where key_text(store_id, sku) = :key order by valid_from;
