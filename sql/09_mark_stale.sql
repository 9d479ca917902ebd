-- Stale data never wins: a record not newer than the stored row for its key is
-- marked 'stale' and left out; the rest are 'loaded', as an insert or an update.
-- The feed's upsert section, which runs next, writes the loaded records, and
-- its WHERE guard enforces the same rule inside the write itself.
-- Reads: run_batch, stored_versions (the feed's view: the stored timestamp of
-- each record's key, from its target). Writes: run_batch._outcome, _detail.
--
-- One pass, one look-up per record: max() over the record's zero or one stored
-- versions is NULL when the key is new.
update run_batch
   set (_outcome, _detail) =
       (select case when max(stored._ts) >= run_batch._ts then 'stale' else 'loaded' end,
               case when max(stored._ts) is null then 'inserted'
                    when max(stored._ts) >= run_batch._ts
                        then :target || ' already holds a version from ' || max(stored._ts)
                    else 'updated' end
          from stored_versions as stored
         where stored._record_no = run_batch._record_no)
 where _outcome is null;
