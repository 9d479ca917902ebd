-- Stale data never wins: a record not newer than the stored row for its key is
-- marked 'stale' and left out; one newer than it is loaded as an update (05
-- marked every record still to be loaded as an insert).
-- The feed's upsert section, which runs next, writes the loaded records, and
-- its WHERE guard enforces the same rule inside the write itself.
-- Reads: run_batch, stored_versions (the feed's view: the stored timestamp of
-- each record whose key the target holds). Writes: run_batch._outcome, _detail.
-- Only those records are written: in a batch of new keys, none.
update run_batch
   set _outcome = case when stored._ts >= run_batch._ts then 'stale' else 'loaded' end,
       _detail = case when stored._ts >= run_batch._ts
                      then :target || ' already holds a version from ' || stored._ts
                      else 'updated' end
  from stored_versions as stored
 where stored._record_no = run_batch._record_no
   and run_batch._outcome = 'loaded';
