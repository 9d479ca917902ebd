-- Stale data never wins: a record not newer than what is stored for its key (the
-- target's row, or the tombstone of a deleted key) is marked 'stale' and left out.
-- Of the rest, a deletion is 'deleted' (the feed declares deletes); an upsert whose
-- key the target holds is an update (05 marked every record still to be loaded as
-- an insert). Then the tombstones follow this run's winners.
-- The feed's upsert and delete sections, which run next, write the target, and
-- their WHERE guards enforce the same rule inside the writes themselves.
-- Reads: run_batch, stored_versions (the feed's view: the stored timestamp of each
-- record whose key the target holds), tombstone. Writes: run_batch._outcome,
-- _detail; tombstone.
-- Only the records concerned are written: in a batch of new keys, none.

-- a key deleted at a version as new stays deleted: an older record arriving later (a
-- late file, --lookback, a replayed dead letter) does not bring it back. (Checked first,
-- so that a soft-deleted row's key says so too. A feed with no tombstones skips the
-- look-ups: the first condition is evaluated once.)
update run_batch
   set _outcome = 'stale',
       _detail = (select 'deleted at ' || version || ' by run ' || run_id
                    from tombstone
                   where tombstone.feed = :feed and tombstone.key = run_batch._key)
 where exists (select 1 from tombstone where feed = :feed)
   and _outcome = 'loaded'
   and exists (select 1
                 from tombstone
                where tombstone.feed = :feed
                  and tombstone.key = run_batch._key
                  and tombstone.version >= run_batch._ts);

-- the target's row: a record not newer is stale, a newer one an update
update run_batch
   set _outcome = case when stored._ts >= run_batch._ts then 'stale' else 'loaded' end,
       _detail = case when stored._ts >= run_batch._ts
                      then :target || ' already holds a version from ' || stored._ts
                      else 'updated' end
  from stored_versions as stored
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
 where excluded.version > tombstone.version;

-- ... and a newer record of a deleted key brings the key back: its tombstone goes
delete from tombstone
 where feed = :feed
   and key in (select _key
                 from run_batch
                where exists (select 1 from tombstone where feed = :feed)
                  and _outcome = 'loaded'
                  and exists (select 1 from tombstone as t where t.feed = :feed and t.key = run_batch._key));
