-- Late data is not lost quietly: a record skipped by the watermark that a run
-- whose lookback reached it would have loaded is marked late (_detail 'late'),
-- for the run's count, its message and --fail-on-late (12). It stays skipped.
-- That is a key's newest record (the one de-duplication would keep) when all
-- of the key's records were skipped, unless the target already holds a version
-- at least as new (the stale guard). Two versions of one new key are one late
-- record; a rerun of a file already loaded has none. A deletion counts only if a
-- run that reached it would have removed or marked a row the target holds. In a
-- feed that applies corrections, so does a record at the stored version with other
-- values from a later delivery (09 would correct the row with it).
-- Reads: run_batch (in key order: 05), stored_compared, tombstone, run_file.
-- Writes: run_batch._detail.

-- (from a record to its stored version, here and in 09: the stored versions are in the
-- batch's key order, and a record is known to them by _record_no. PostgreSQL hash-joins.)
create index stored_compared_by_record_no on stored_compared (_record_no);

-- the last record of its key that was not rejected, if it was skipped (a look
-- at the next row, as in 08), and no version as new is stored: neither the target's row
-- nor the tombstone of a deletion (a feed with no tombstones skips that look-up)
update run_batch
   set _detail = 'late'
 where _outcome = 'skipped'
   and _key is not (select next._key
                      from run_batch as next
                     where next.rowid > run_batch.rowid
                       and next._outcome <> 'rejected'
                     order by next.rowid
                     limit 1)
   and not exists (select 1
                     from stored_compared as stored
                    where stored._record_no = run_batch._record_no
                      and stored._ts >= run_batch._ts
                      -- (at its version: a correction the feed would apply is late too)
                      and not (stored._ts = run_batch._ts
                               and :corrections = 'apply'
                               and (run_batch._delete = 1 or stored._same = 0)
                               and run_batch._delivery > coalesce((select delivery_id from run_file
                                                                    where run_file.run_id = stored._run_id
                                                                      and run_file.source = stored._source), 0)))
   and (not exists (select 1 from tombstone where feed = :feed)
        or not exists (select 1
                         from tombstone
                        where tombstone.feed = :feed
                          and tombstone.key = run_batch._key
                          and tombstone.version >= run_batch._ts
                          and not (tombstone.version = run_batch._ts
                                   and :corrections = 'apply'
                                   and run_batch._delete <> 1
                                   and run_batch._delivery > coalesce((select delivery_id from run_file
                                                                        where run_file.run_id = tombstone.run_id
                                                                          and run_file.source = tombstone.source), 0))))
   -- a deletion is late only if it would have removed or marked a stored row
   and (coalesce(_delete, 0) <> 1
        or exists (select 1 from stored_compared as stored where stored._record_no = run_batch._record_no));

