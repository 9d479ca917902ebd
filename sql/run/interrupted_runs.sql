-- The runs this run's opening found killed (run/open.sql marked them
-- 'interrupted') that were reported to OpenLineage: the runner reports each
-- aborted, under the run id its START carried. Reads only.
select run_log.run_id, run_log.feed, run_log.kind, run_log.openlineage_run_id
  from run_log
 where run_log.run_id in (select run_id from interrupted_now)
   and run_log.openlineage_run_id is not null
 order by run_log.run_id;
