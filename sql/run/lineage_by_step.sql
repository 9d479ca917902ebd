-- Lineage entries of one run, counted by step (for --report and --output).
select step, count(*) as entries
  from lineage
 where run_id = :run_id
 group by step
 order by min(lineage_id);
