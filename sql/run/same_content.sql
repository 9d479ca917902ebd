-- The load's files whose content an earlier run loaded (the same delivery): the summary's
-- same_content, and a note on stderr.
select file.source, delivery.run_id as first_run_id, delivery.source as first_source
  from run_file as file
  join delivery on delivery.delivery_id = file.delivery_id
 where file.run_id = :run_id
   and delivery.run_id <> :run_id
   -- (a replay reads no file: its records keep their files' deliveries, seen before by definition)
   and exists (select 1 from run_log where run_log.run_id = :run_id and run_log.kind = 'load')
 order by file.source;
