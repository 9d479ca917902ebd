-- What the run read, file by file, for its OpenLineage COMPLETE event: each
-- file's records and how many were rejected. Counted from lineage (this run's
-- rows), in input order. Reads only.
select file.source,
       coalesce(accepted.records, 0) + coalesce(rejected.records, 0) as records,
       coalesce(rejected.records, 0) as rejected
  from lineage_source as file
  left join (select source_no, count(*) as records from lineage_record
              where run_id = :run_id group by source_no) as accepted on accepted.source_no = file.source_no
  left join (select source_no, count(*) as records from lineage_rejected
              where run_id = :run_id group by source_no) as rejected on rejected.source_no = file.source_no
 where file.run_id = :run_id
 order by file.source_no;
