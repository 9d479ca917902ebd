-- Stale data never wins: a record not newer than the stored row for its key is
-- marked 'stale' and left out; the rest are 'loaded', as an insert or an update.
-- The feed's upsert section, which runs next, writes the loaded records, and
-- its WHERE guard enforces the same rule inside the write itself.
-- Reads: run_batch, stored_versions (the feed's view: the stored timestamp of
-- each record's key, from its target). Writes: run_batch._outcome.

update run_batch
   set _outcome = 'stale',
       _detail = :target || ' already holds a version from ' || stored._ts
  from stored_versions as stored
 where run_batch._outcome is null
   and stored._record_no = run_batch._record_no
   and stored._ts >= run_batch._ts;

update run_batch
   set _outcome = 'loaded',
       _detail = case when exists (select 1 from stored_versions as stored
                                    where stored._record_no = run_batch._record_no)
                      then 'updated' else 'inserted' end
 where _outcome is null;
