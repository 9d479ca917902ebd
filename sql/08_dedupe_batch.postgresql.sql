-- One record per key within the batch: the newest timestamp wins; on a tie the
-- later record in the input wins. The others are 'superseded'.
-- Reads and writes: run_batch. PostgreSQL's version of 08_dedupe_batch.sql: same rule.
--
-- SQLite's version probes an index built here. PostgreSQL may not use an index
-- built in the transaction that updated the table (after a HOT update it waits
-- for the commit: pg_index.indcheckxmin), and then each loser scanned the whole
-- batch. PostgreSQL sorts quickly, so the window function stays, and it carries
-- the winner's line, file and time along: no lookup per loser.
update run_batch
   set _outcome = 'superseded',
       _detail = 'the record for this key on line ' || ranked.winner_line_no
                 || case when ranked.winner_source <> run_batch._source then ' of ' || ranked.winner_source else '' end
                 || ' wins (' || case when ranked.winner_ts = run_batch._ts
                                      then 'same ' || :timestamp_column || ', later in the input'
                                      else 'newer ' || :timestamp_column end
                 || ')'
  from (select _record_no, winner_line_no, winner_source, winner_ts
          from (select _record_no,
                       row_number() over newest_first as position,
                       first_value(_line_no) over newest_first as winner_line_no,
                       first_value(_source) over newest_first as winner_source,
                       first_value(_ts) over newest_first as winner_ts
                  from run_batch
                 where _outcome is null
                window newest_first as (partition by _key order by _ts desc, _record_no desc)
               ) as all_ranked
         -- only the losers reach the update (a fifth of a typical batch, not all of it)
         where position > 1
       ) as ranked
 where ranked._record_no = run_batch._record_no;
