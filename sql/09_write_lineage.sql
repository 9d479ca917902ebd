-- One lineage entry per record per step: 'staged' for every valid record,
-- then its outcome (loaded, skipped, stale, superseded); 'rejected' alone for
-- an invalid one. Every input record of the run appears here by line_no.
-- Reads: run_batch. Writes: lineage.
insert into lineage (run_id, step, event_id, source, line_no, event_ts, detail)
select :run_id, 'staged', event_id, source, line_no, event_ts, null
  from run_batch
 where outcome <> 'rejected'
 order by record_no;

insert into lineage (run_id, step, event_id, source, line_no, event_ts, detail)
select :run_id, outcome, event_id, source, line_no, event_ts, detail
  from run_batch
 order by record_no;
