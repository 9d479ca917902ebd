-- One record per key within the batch: the newest event_ts wins; on a tie the
-- later record in the input wins. The others are 'superseded'.
-- Reads and writes: run_batch.
update run_batch
   set outcome = 'superseded',
       detail = 'a newer record for this key is on line '
                || (select winner.line_no from run_batch winner
                     where winner.record_no = ranked.winner_record_no)
  from (select record_no,
               row_number() over newest_first as position,
               first_value(record_no) over newest_first as winner_record_no
          from run_batch
         where outcome is null
        window newest_first as (partition by event_id order by event_ts desc, record_no desc)
       ) as ranked
 where ranked.record_no = run_batch.record_no
   and ranked.position > 1;
