-- One record per key within the batch: the newest timestamp wins; on a tie the
-- later delivery, then the later record in the input. The others are 'superseded'.
-- Reads and writes: run_batch. PostgreSQL's version of 08_dedupe_batch.sql: same rule.
--
-- SQLite's version looks at the next row, in the key order stage 05 stored the
-- batch in. A PostgreSQL table has no row order to rely on, so each key's
-- records are ranked; only the losers (a fifth of a typical batch) are written.
update run_batch
   set _outcome = 'superseded',
       _detail = null
  from (select _record_no
          from (select _record_no,
                       row_number() over (partition by _key order by _ts desc, coalesce(_delivery, 0) desc, _record_no desc) as position
                  from run_batch
                 where _outcome = 'loaded') as ranked
         where position > 1) as losers
 where losers._record_no = run_batch._record_no;
