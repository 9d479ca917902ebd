-- PostgreSQL's version of 07_find_late_records.sql: the same rule. A table has
-- no row order to rely on, so each key's newest record is found by a ranking
-- (as in 08) instead of a look at the next row.

update run_batch
   set _detail = 'late'
  from (select _record_no, _outcome,
               row_number() over (partition by _key order by _ts desc, coalesce(_delivery, 0) desc, _record_no desc) as position
          from run_batch
         where _outcome <> 'rejected') as ranked
 where ranked._record_no = run_batch._record_no
   and ranked.position = 1
   and ranked._outcome = 'skipped';

update run_batch
   set _detail = null
  from stored_compared as stored
 where stored._record_no = run_batch._record_no
   and run_batch._detail = 'late'
   and stored._ts >= run_batch._ts
   and not (stored._ts = run_batch._ts
            and :corrections = 'apply'
            and (run_batch._delete = 1 or stored._same = 0)
            and run_batch._delivery > coalesce((select delivery_id from run_file
                                                 where run_file.run_id = stored._run_id
                                                   and run_file.source = stored._source), 0));

update run_batch
   set _detail = null
  from tombstone
 where tombstone.feed = :feed
   and tombstone.key = run_batch._key
   and run_batch._detail = 'late'
   and tombstone.version >= run_batch._ts
   and not (tombstone.version = run_batch._ts
            and :corrections = 'apply'
            and run_batch._delete <> 1
            and run_batch._delivery > coalesce((select delivery_id from run_file
                                                 where run_file.run_id = tombstone.run_id
                                                   and run_file.source = tombstone.source), 0));

update run_batch
   set _detail = null
 where _detail = 'late'
   and _delete = 1
   and not exists (select 1 from stored_versions as stored where stored._record_no = run_batch._record_no);
