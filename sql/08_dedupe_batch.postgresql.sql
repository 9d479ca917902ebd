-- One record per key within the batch: the newest event_ts wins; on a tie the
-- later record in the input wins. The others are 'superseded'.
-- Reads and writes: run_batch. PostgreSQL's version of 08_dedupe_batch.sql: same rule.
--
-- SQLite's version probes an index built here. PostgreSQL may not use an index
-- built in the transaction that updated the table (after a HOT update it waits
-- for the commit: pg_index.indcheckxmin), and then each loser scanned the whole
-- batch. PostgreSQL sorts quickly, so the window function stays.
update run_batch
   set outcome = 'superseded',
       detail = (select 'the record for this key on line ' || winner.line_no
                        || case when winner.source <> run_batch.source then ' of ' || winner.source else '' end
                        || ' wins (' || case when winner.event_ts = run_batch.event_ts
                                             then 'same event_ts, later in the input' else 'newer event_ts' end
                        || ')'
                   from run_batch as winner
                  where winner.record_no = ranked.winner_record_no)
  from (select record_no, winner_record_no
          from (select record_no,
                       row_number() over newest_first as position,
                       first_value(record_no) over newest_first as winner_record_no
                  from run_batch
                 where outcome is null
                window newest_first as (partition by event_id order by event_ts desc, record_no desc)
               ) as all_ranked
         -- only the losers reach the update (a fifth of a typical batch, not all of it)
         where position > 1
       ) as ranked
 where ranked.record_no = run_batch.record_no;
