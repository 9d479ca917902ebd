-- One record per key within the batch: the newest event_ts wins; on a tie the
-- later record in the input wins. The others are 'superseded'.
-- Reads and writes: run_batch.

-- The undecided records sorted by key, newest last: each record finds the
-- newer record for its key (and a loser its winner) with one index probe,
-- instead of the whole batch going through a window sort. (PostgreSQL keeps
-- the window sort: see 08_dedupe_batch.postgresql.sql.)
create index run_batch_by_key on run_batch (event_id, event_ts, record_no) where outcome is null;

update run_batch
   set outcome = 'superseded',
       detail = (select 'the record for this key on line ' || winner.line_no
                        || case when winner.source <> run_batch.source then ' of ' || winner.source else '' end
                        || ' wins (' || case when winner.event_ts = run_batch.event_ts
                                             then 'same event_ts, later in the input' else 'newer event_ts' end
                        || ')'
                   from run_batch as winner
                  where winner.outcome is null
                    and winner.event_id = run_batch.event_id
                  order by winner.event_ts desc, winner.record_no desc
                  limit 1)
 where outcome is null
   and exists (select 1 from run_batch as newer
                where newer.outcome is null
                  and newer.event_id = run_batch.event_id
                  and (newer.event_ts > run_batch.event_ts
                       or (newer.event_ts = run_batch.event_ts and newer.record_no > run_batch.record_no)));

-- Done with it: later stages decide the other records, and each decision
-- would otherwise also have to take the record out of this index.
drop index run_batch_by_key;
