-- Records why a run failed. Runs in its own transaction after the load was
-- rolled back, under the run lock (on PostgreSQL a COMMIT still in flight on
-- the run's first connection has ended by then), so the failure is on record
-- while the data is untouched.
-- Only a run still 'running' is marked: one that is 'succeeded' was committed
-- before the stop or error landed, and stays so. The last statement says which
-- (no row: the run was never opened, its opening transaction rolled back).
update run_log
   set status = 'failed',
       finished_at = :now,
       error = :error
 where run_id = :run_id
   and status = 'running'
   and host = :host
   and pid = :pid;

select status
  from run_log
 where run_id = :run_id
   and host = :host
   and pid = :pid;
