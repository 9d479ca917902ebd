-- How many runs have lost their lineage to --prune-history, of every feed: read
-- before a prune and again after a stop that landed during its COMMIT, under the
-- run lock, to tell whether the prune was kept (its evidence: pruned_at). Reads only.
select count(*) as runs_pruned
  from run_log
 where pruned_at is not null;
