-- One record per key within the batch: the newest timestamp wins; on a tie the
-- later delivery, then the later record in the input. The others are 'superseded'.
-- Reads and writes: run_batch.
--
-- Stage 05 stored the batch sorted by key, timestamp, delivery and input order, so a
-- key's winner is its last record still to be loaded: a record is superseded
-- when the next such record after it has the same key. One short look ahead
-- per record, no sort and no index. (PostgreSQL has no row order to rely on:
-- see 08_dedupe_batch.postgresql.sql.)
update run_batch
   set _outcome = 'superseded',
       _detail = null
 where _outcome = 'loaded'
   and _key = (select next._key
                 from run_batch as next
                where next.rowid > run_batch.rowid
                  and next._outcome = 'loaded'
                order by next.rowid
                limit 1);
