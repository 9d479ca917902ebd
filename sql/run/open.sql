-- Opens a run. Runs right after the schema stage in the opening transaction,
-- committed before the load starts, so that a run which later fails or is
-- killed is still on record in run_log.
-- Reads: run_log. Writes: run_log (this run as 'running'; dead runs as 'interrupted').

-- A run still marked 'running' whose process is gone was killed: its load
-- transaction was rolled back by the database, so only the label is wrong.
-- Gone: no process has its pid, or it is a zombie (killed, not yet reaped by
-- its parent: a run waiting for the lock may look before that), or the one
-- that has it started at another time than the run's (the pid was given
-- again). A run recorded before schema version 7 has no process_started: its
-- pid alone decides (sqlite_db.process_is_alive).
-- (kept in interrupted_now: run/interrupted_runs.sql reads which runs this
-- one found dead, to report them to OpenLineage)
drop table if exists interrupted_now;
create temp table interrupted_now as
select run_id
  from run_log
 where status = 'running'
   and host = :host
   and not process_is_alive(pid, process_started);

update run_log
   set status = 'interrupted',
       finished_at = :now,
       error = 'the runner stopped before finishing (killed or crashed); nothing it did was kept'
 where run_id in (select run_id from interrupted_now);

-- Ids are numbered here rather than by an engine's auto-increment: the
-- opening transaction holds the run lock, so max + 1 cannot collide.
insert into run_log (run_id, feed, kind, status, started_at, source, format, header, lookback_seconds, host, pid,
                     openlineage_run_id, process_started)
select coalesce(max(run_id), 0) + 1, :feed, :kind, 'running', :now, :source, :format, :header, :lookback_seconds,
       :host, :pid, :openlineage_run_id, :process_started
  from run_log
returning run_id;
