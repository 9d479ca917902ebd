-- Lineage entries of one run, counted by step, in the order the run first
-- wrote each (for --report and --output). Counted from where lineage is
-- stored rather than through the view: the same numbers, without building
-- every entry's detail.
select step, sum(entries) as entries
  from (select 'staged' as step, count(*) as entries, 2 * min(record_no) - 1 as first_entry
          from lineage_record
         where run_id = :run_id
        having count(*) > 0
        union all
        select outcome.step, count(*), 2 * min(record_no)
          from lineage_record
          join lineage_outcome as outcome on outcome.outcome = lineage_record.outcome
         where run_id = :run_id
         group by outcome.step
        union all
        select 'rejected', count(*), 2 * min(record_no)
          from lineage_rejected
         where run_id = :run_id
        having count(*) > 0
        union all
        select step, count(*), min(lineage_id)  -- a run written before schema version 3
          from lineage_before_v3
         where run_id = :run_id
         group by step) as counted
 group by step
 order by min(first_entry);
