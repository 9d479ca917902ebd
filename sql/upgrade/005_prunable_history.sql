-- Schema version 5: prunable history. --prune-history removes the lineage of
-- old runs but keeps their rows in run_log, marked with when their lineage
-- was removed, so --runs and --trace can say the detail is gone rather than
-- show a shorter story as if it were whole. Adding a column rewrites no row.
alter table run_log add column pruned_at text;

-- (id_high_water, which the schema stage creates, keeps the highest id of a
-- pruned dead letter: new dead letters are numbered after it)
