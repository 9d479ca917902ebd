-- python runner.py --trace KEY: every time the key was seen, in every run:
-- staged, loaded, skipped, stale, superseded or rejected (with the reason),
-- from which file and line.
select lineage.run_id,
       run_log.started_at as run_started_at,
       run_log.kind as run_kind,
       lineage.step,
       lineage.source,
       lineage.line_no,
       lineage.event_ts,
       lineage.detail
  from lineage
  left join run_log on run_log.run_id = lineage.run_id
 where lineage.event_id = :key
 order by lineage.lineage_id;
