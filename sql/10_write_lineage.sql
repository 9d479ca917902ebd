-- Every record's fate, on file: one lineage row per record of the run, which
-- the view lineage (01) shows as 'staged' plus its outcome, or 'rejected'.
-- Reads: run_batch, run_context. Writes: lineage_run, lineage_source,
-- lineage_record, lineage_rejected; run_file.
--
-- Only what cannot be derived is stored per record. A record's lineage ids are
-- the run's base + 2 * _record_no (- 1 for staged): unique, in input order,
-- never renumbered. Rows go in in run_batch's order (by key), so lineage's
-- key index is walked once, in order, however large the history.

insert into lineage_run (run_id, feed, lineage_base, last_lineage_id, timestamp_column, skip_detail)
select :run_id, :feed, base.id, base.id + 2 * coalesce((select max(_record_no) from run_batch), 0),
       :timestamp_column,
       'older than ' || skip_before
       || case when :lookback_seconds > 0 then ' (the watermark ' || :watermark || ' minus the lookback)'
               else ' (the watermark)' end
  from run_context,
       -- after every id so far: the runs' ranges, and the entries written before schema version 3
       -- (a prune gives a pruned one of those runs its range in lineage_run, not the others)
       (select coalesce(max(id), 0) as id
          from (select max(last_lineage_id) as id from lineage_run
                union all
                select max(lineage_id) from lineage_before_v3) as ids) as base;

-- each file once, numbered in input order
drop table if exists run_source;
create temp table run_source (source text primary key, source_no integer not null);
insert into run_source (source, source_no)
select _source, row_number() over (order by min(_record_no))
  from run_batch
 group by _source;

insert into lineage_source (run_id, source_no, source)
select :run_id, source_no, source from run_source;

-- each file's delivery (run/record_deliveries.sql, 03), which a row stored by this run
-- is known by from now on (09): never pruned, unlike lineage. A load's are landing_file's;
-- a replay lands no file, and its records keep their own files' (03). (A replay's records
-- of one file are of one delivery, but for a file re-issued under its path: the latest.)
insert into run_file (run_id, source, delivery_id)
select :run_id, source, delivery_id
  from landing_file
union all
select :run_id, _source, max(_delivery)
  from run_batch
 where not exists (select 1 from landing_file)
   and _delivery is not null
 group by _source;

insert into lineage_record (run_id, key, record_no, outcome, source_no, line_no, ts, detail)
select :run_id, _key, _record_no, outcome.outcome, file.source_no, _line_no, _ts,
       case when _outcome in ('stale', 'differing') then _detail end
  from run_batch
  join lineage_outcome as outcome on outcome.step = run_batch._outcome
                                 and (outcome.loaded_as is null or outcome.loaded_as = run_batch._detail)
                                 and outcome.history is not distinct from run_batch._history
  join run_source as file on file.source = run_batch._source
 where _outcome <> 'rejected';

insert into lineage_rejected (run_id, record_no, key, source_no, line_no, ts, reason)
select :run_id, _record_no, _key, file.source_no, _line_no, _ts, _reason
  from run_batch
  join run_source as file on file.source = run_batch._source
 where _outcome = 'rejected';
