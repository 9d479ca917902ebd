-- Stale data never wins: a record older than what is stored for its key (the
-- target's row, or the tombstone of a deleted key) is marked 'stale' and left out,
-- and so is one at the stored version with the same content (equal values: the
-- feed's versions section says, _same; a deletion of a deleted key).
-- At the stored version with other content, a record is a correction: 'differing',
-- not applied, unless the feed declares corrections = 'apply' and the record comes
-- from a later delivery than the stored one (its file's content first loaded later:
-- run/record_deliveries.sql), which is 'loaded' as 'corrected'.
-- Of the rest, a deletion is 'deleted' (the feed declares deletes); an upsert whose
-- key the target holds is an update (05 marked every record still to be loaded as
-- an insert). Then the tombstones follow this run's winners.
-- The feed's upsert and delete sections, which run next, write the target, and
-- their WHERE guards enforce the version rule inside the writes themselves.
-- Reads: run_batch, stored_compared (the feed's stored_versions: the stored timestamp,
-- _same and provenance of each record whose key the target holds), tombstone,
-- run_file (the stored row's delivery; none: a row stored before deliveries, the
-- earliest). Writes: run_batch._outcome, _detail; tombstone.
-- Only the records concerned are written: in a batch of new keys, none.

-- a key deleted at a version as new stays deleted: an older record arriving later (a
-- late file, --lookback, a replayed dead letter) does not bring it back; one at that
-- version does only as a later delivery's correction. (Checked first, so that a
-- soft-deleted row's key says so too. A feed with no tombstones skips the look-ups:
-- the first condition is evaluated once.)
update run_batch
   set _outcome = case when tombstone.version > _ts or _delete = 1 then 'stale'
                       when :corrections = 'apply'
                            and _delivery > coalesce((select delivery_id from run_file
                                                       where run_file.run_id = tombstone.run_id
                                                         and run_file.source = tombstone.source), 0)
                            then 'loaded'
                       else 'differing' end,
       _detail = case when tombstone.version > _ts or _delete = 1
                          then 'deleted at ' || tombstone.version || ' by run ' || tombstone.run_id
                      when :corrections = 'apply'
                           and _delivery > coalesce((select delivery_id from run_file
                                                      where run_file.run_id = tombstone.run_id
                                                        and run_file.source = tombstone.source), 0)
                           then 'corrected'
                      else 'deleted at ' || tombstone.version || ' by run ' || tombstone.run_id
                           || case when :corrections = 'apply' then ', a later delivery' else '' end
                  end
  from tombstone
 where exists (select 1 from tombstone where feed = :feed)
   and tombstone.feed = :feed
   and tombstone.key = run_batch._key
   and tombstone.version >= run_batch._ts
   and run_batch._outcome = 'loaded';

-- the target's row: a newer record is an update; one at its version with other values
-- (or a deletion) a correction, as above. (The stored versions were read once, after 05:
-- sql/run/versions_compared.sql; SQLite goes to each by 07's index. Joined to the feed's view
-- directly, SQLite built an index of the whole batch for the first stored key it met:
-- 7.6 s of a million updates, against 3.4; notes.md, 60.)
update run_batch
   set _outcome = case when stored._ts > run_batch._ts then 'stale'
                       when stored._ts < run_batch._ts then 'loaded'
                       when run_batch._delete <> 1 and coalesce(stored._same, 1) = 1 then 'stale'
                       when :corrections = 'apply'
                            and run_batch._delivery > coalesce((select delivery_id from run_file
                                                                 where run_file.run_id = stored._run_id
                                                                   and run_file.source = stored._source), 0)
                            then 'loaded'
                       else 'differing' end,
       _detail = case when stored._ts > run_batch._ts
                           or (run_batch._delete <> 1 and coalesce(stored._same, 1) = 1 and stored._ts = run_batch._ts)
                          then :target || ' already holds a version from ' || stored._ts
                      when stored._ts < run_batch._ts then 'updated'
                      when :corrections = 'apply'
                           and run_batch._delivery > coalesce((select delivery_id from run_file
                                                                where run_file.run_id = stored._run_id
                                                                  and run_file.source = stored._source), 0)
                           then 'corrected'
                      else :target || ' holds other values at ' || stored._ts || ', from run ' || stored._run_id
                           || case when :corrections = 'apply' then ', a later delivery' else '' end
                  end
  from stored_compared as stored
 where stored._record_no = run_batch._record_no
   and run_batch._outcome = 'loaded';

-- a deletion newer than what is stored: it removes the row (deletes = 'hard'), marks
-- it (deletes = 'soft'), or, for a key the target does not hold, is only remembered
update run_batch
   set _outcome = 'deleted',
       _detail = case when _detail = 'inserted' then 'no row'
                      when :deletes = 'soft' then 'marked'
                      else 'removed' end
 where :deletes <> 'none'
   and _outcome = 'loaded'
   and _delete = 1;

-- each applied deletion is remembered at its version, one row per key ...
insert into tombstone (feed, key, version, run_id, source, line_no)
select :feed, _key, _ts, :run_id, _source, _line_no
  from run_batch
 where :deletes <> 'none'
   and _outcome = 'deleted'
on conflict (feed, key) do update
   set version = excluded.version,
       run_id = excluded.run_id,
       source = excluded.source,
       line_no = excluded.line_no
 where excluded.version >= tombstone.version;

-- ... and a newer record of a deleted key (or a later delivery's, at its version)
-- brings the key back: its tombstone goes
delete from tombstone
 where feed = :feed
   and key in (select _key
                 from run_batch
                where exists (select 1 from tombstone where feed = :feed)
                  and _outcome = 'loaded'
                  and exists (select 1 from tombstone as t where t.feed = :feed and t.key = run_batch._key));
