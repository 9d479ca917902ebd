-- Records why a run failed. Runs in its own transaction after the load was
-- rolled back, so the failure is on record while the data is untouched.
update run_log
   set status = 'failed',
       finished_at = :now,
       error = :error
 where run_id = :run_id;
