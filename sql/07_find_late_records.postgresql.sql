-- PostgreSQL's version of 07_find_late_records.sql: the same rule. A table has
-- no row order to rely on, so each key's newest record is found by a ranking
-- (as in 08) instead of a look at the next row.

-- Statistics, for this stage's plans and those after it (notes.md, 60). A temporary
-- table is never analyzed by autovacuum: without them PostgreSQL guesses the batch's
-- size from its pages and each condition's share from a default.
analyze run_batch;
analyze stored_compared;

-- dead_letter's, with the dead letters stage 06 just filed, for the next run's plans:
-- autovacuum reads them only a while after this run commits, and a rerun moments after
-- a load that filed 20,000 planned stage 06 as if there were none (a scan of the batch
-- per dead letter: hours). Not while it is empty: statistics of none would plan 06's
-- insert as a scan of dead_letter per rejected record, quadratic in what it inserts.
do $$ begin if exists (select 1 from dead_letter) then analyze dead_letter; end if; end $$;

-- The candidates first, in a narrow table of their own: marking each in run_batch and
-- clearing those a stored version covers wrote every skipped record twice (a rerun of
-- a million: 12 s, notes.md 60); a single update with NOT EXISTS was planned as a
-- nested loop. Each key's newest record that was not rejected, if it was skipped:
drop table if exists late_candidate;
create temp table late_candidate as
select _record_no, _key, _ts, _delivery, _delete
  from (select _record_no, _key, _ts, _delivery, _delete, _outcome,
               row_number() over (partition by _key order by _ts desc, coalesce(_delivery, 0) desc, _record_no desc) as position
          from run_batch
         where _outcome <> 'rejected'
           -- (a batch with nothing skipped, most fresh loads, ranks nothing: evaluated once)
           and exists (select 1 from run_batch as any_skipped where any_skipped._outcome = 'skipped')) as ranked
 where position = 1
   and _outcome = 'skipped';
analyze late_candidate;

-- ... unless the target holds a version as new (at its version: unless the record is a
-- correction the feed would apply) ...
delete from late_candidate as candidate
 using stored_compared as stored
 where stored._record_no = candidate._record_no
   and stored._ts >= candidate._ts
   and not (stored._ts = candidate._ts
            and :corrections = 'apply'
            and (candidate._delete = 1 or stored._same = 0)
            and candidate._delivery > coalesce((select delivery_id from run_file
                                                 where run_file.run_id = stored._run_id
                                                   and run_file.source = stored._source), 0));

-- ... or the tombstone of a deletion as new ...
delete from late_candidate as candidate
 using tombstone
 where tombstone.feed = :feed
   and tombstone.key = candidate._key
   and tombstone.version >= candidate._ts
   and not (tombstone.version = candidate._ts
            and :corrections = 'apply'
            and candidate._delete <> 1
            and candidate._delivery > coalesce((select delivery_id from run_file
                                                 where run_file.run_id = tombstone.run_id
                                                   and run_file.source = tombstone.source), 0));

-- ... and a deletion is late only if it would have removed or marked a stored row
delete from late_candidate as candidate
 where candidate._delete = 1
   and not exists (select 1 from stored_compared as stored where stored._record_no = candidate._record_no);

update run_batch
   set _detail = 'late'
  from late_candidate
 where late_candidate._record_no = run_batch._record_no;
