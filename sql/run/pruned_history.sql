-- Whether the feed's history was pruned (--prune-history), for --trace: how
-- many runs lost their lineage, the newest of them, and when. Reads only.
select count(*) as runs_pruned,
       max(run_id) as last_run_id,
       max(started_at) as last_started_at,
       max(pruned_at) as pruned_at
  from run_log
 where feed = :feed
   and pruned_at is not null;
