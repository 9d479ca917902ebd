-- The run's deliveries (docs/feeds.md, Corrections), right after landing: each file's
-- content is known by its SHA-256 (landing_file, landed as each file was read to its
-- end). A content no committed run has loaded is a new delivery, numbered after every
-- other in the order of the command line (a later delivery has a larger id); one seen
-- before keeps its id, wherever it appears now. Rolled back with the run if it fails.
-- Reads: landing_file. Writes: delivery, landing_file.delivery_id (for 03).
insert into delivery (delivery_id, sha256, run_id, source)
select (select coalesce(max(delivery_id), 0) from delivery) + row_number() over (order by position),
       sha256, :run_id, source
  from landing_file as file
 where position = (select min(position) from landing_file as same where same.sha256 = file.sha256)
   and not exists (select 1 from delivery where delivery.sha256 = file.sha256);

-- (run_file, each file's delivery in this run, is written by stage 10 from run_batch: a
-- replay's records keep their own files' deliveries, which only stage 03 finds)

update landing_file
   set delivery_id = (select delivery_id from delivery where delivery.sha256 = landing_file.sha256);
