-- One record per key within the batch: the newest timestamp wins; on a tie the
-- later record in the input wins. The others are 'superseded'.
-- Reads and writes: run_batch.

-- The undecided records sorted by key, newest last: each record finds the
-- newer record for its key (and a loser its winner) with one index probe,
-- instead of the whole batch going through a window sort. (PostgreSQL keeps
-- the window sort: see 08_dedupe_batch.postgresql.sql.)
create index run_batch_by_key on run_batch (_key, _ts, _record_no) where _outcome is null;

update run_batch
   set _outcome = 'superseded',
       _detail = (select 'the record for this key on line ' || winner._line_no
                         || case when winner._source <> run_batch._source then ' of ' || winner._source else '' end
                         || ' wins (' || case when winner._ts = run_batch._ts
                                              then 'same ' || :timestamp_column || ', later in the input'
                                              else 'newer ' || :timestamp_column end
                         || ')'
                    from run_batch as winner
                   where winner._outcome is null
                     and winner._key = run_batch._key
                   order by winner._ts desc, winner._record_no desc
                   limit 1)
 where _outcome is null
   and exists (select 1 from run_batch as newer
                where newer._outcome is null
                  and newer._key = run_batch._key
                  and (newer._ts > run_batch._ts
                       or (newer._ts = run_batch._ts and newer._record_no > run_batch._record_no)));

-- Done with it: later stages decide the other records, and each decision
-- would otherwise also have to take the record out of this index.
drop index run_batch_by_key;
