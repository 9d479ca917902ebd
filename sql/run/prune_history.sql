-- python runner.py --prune-history AGE: removes the lineage of the runs that
-- started before :prune_before (the run's clock minus AGE), of one feed or,
-- when :only_feed is NULL, of every feed; and the dead letters those runs
-- resolved (their match keys stay, in dead_letter_pruned). Never a feed's
-- target, its watermark, an open dead letter (one first rejected by a pruned
-- run stays until a run resolves it) or a dismissed one (--dismiss-dead-letters
-- closed it for good: it stays, with why).
-- Every run keeps its row in run_log, with its counts, marked pruned_at.
-- One transaction under the run lock (a dry run rolls it back); the last
-- statement's row is printed as JSON.

drop table if exists pruned_run;
create temp table pruned_run (run_id integer primary key);
insert into pruned_run (run_id)
select run_id
  from run_log
 where started_at < :prune_before
   and status <> 'running'  -- its load may not have written its lineage yet
   and pruned_at is null
   and (cast(:only_feed as text) is null or feed = cast(:only_feed as text));

-- counted before they go: entries as the view lineage counts them (an
-- accepted record is two, staged and its outcome)
drop table if exists prune_result;
create temp table prune_result as
select (select count(*) from run_log
         where cast(:only_feed as text) is null or feed = cast(:only_feed as text)) as runs_on_record,
       (select count(*) from pruned_run) as runs_pruned,
       (select min(run_id) from pruned_run) as first_run_id,
       (select max(run_id) from pruned_run) as last_run_id,
       (select 2 * count(*) from lineage_record where run_id in (select run_id from pruned_run))
       + (select count(*) from lineage_rejected where run_id in (select run_id from pruned_run))
       + (select count(*) from lineage_before_v3 where run_id in (select run_id from pruned_run))
           as lineage_entries_removed,
       (select count(*) from dead_letter
         where status = 'resolved' and resolved_by_run in (select run_id from pruned_run)) as dead_letters_removed;

-- A run's id range stays in lineage_run, so the next run's lineage ids follow
-- every id ever given (stage 10): runs written before schema version 3 get
-- the row that later runs have.
insert into lineage_run (run_id, feed, lineage_base, last_lineage_id, timestamp_column, skip_detail)
select run_id, min(feed), min(lineage_id) - 1, max(lineage_id), '', null
  from lineage_before_v3
 where run_id in (select run_id from pruned_run)
 group by run_id
on conflict (run_id) do nothing;

delete from lineage_record where run_id in (select run_id from pruned_run);
delete from lineage_rejected where run_id in (select run_id from pruned_run);
delete from lineage_source where run_id in (select run_id from pruned_run);
delete from lineage_before_v3 where run_id in (select run_id from pruned_run);
-- Dead letters are numbered after the highest id (stage 06): remember it
-- before the rows that hold it may go.
insert into id_high_water (name, value)
select 'dead_letter', max(dead_letter_id)
  from dead_letter
 where true  -- (SQLite: an upsert's SELECT needs a WHERE)
having max(dead_letter_id) is not null
on conflict (name) do update
   set value = case when excluded.value > id_high_water.value then excluded.value else id_high_water.value end;

-- A removed dead letter's match key stays (stage 06): a rerun of its file
-- rejects the record again as repeated, as it did while the row was kept.
insert into dead_letter_pruned (dead_letter_id, feed, source, line_no, received_raw, resolved_by_run)
select dead_letter_id, feed, source, line_no, coalesce(received_raw, raw), resolved_by_run
  from dead_letter
 where status = 'resolved' and resolved_by_run in (select run_id from pruned_run);
delete from dead_letter where status = 'resolved' and resolved_by_run in (select run_id from pruned_run);

update run_log
   set pruned_at = :now
 where run_id in (select run_id from pruned_run);

select * from prune_result;
