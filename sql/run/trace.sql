-- python runner.py --trace KEY: every time the feed saw the key, in every run:
-- staged, loaded, skipped, stale, superseded or rejected (with the reason),
-- from which file and line. (The key's current row comes from the feed's
-- definition, its trace section.)
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
   and lineage.feed = :feed
 order by lineage.lineage_id;
