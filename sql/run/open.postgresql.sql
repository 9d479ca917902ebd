-- PostgreSQL's version of run/open.sql: a run whose server session is gone
-- (the runner was killed, the connection dropped) was rolled back by the
-- server; only its 'running' label is wrong. :pid is the session's backend pid.
--
-- This runs holding the run lock, so no other live run can be inside its load.
-- A live run is therefore either waiting for the lock or idle between its two
-- transactions. A session in any other state is a killed runner's backend that
-- the server is still tearing down (it may linger a moment after its rollback).
-- A session with the run's pid that started at another time than the run's
-- backend (process_started: its backend_start) is a later one given the same
-- pid. A run recorded before schema version 7 has no process_started: its pid
-- alone decides.
-- (kept in interrupted_now: run/interrupted_runs.sql reads which runs this
-- one found dead, to report them to OpenLineage)
drop table if exists interrupted_now;
create temp table interrupted_now as
select run_id
  from run_log
 where status = 'running'
   and not exists (select 1 from pg_stat_activity as session
                    where session.pid = run_log.pid
                      and (run_log.process_started is null
                           or session.backend_start = cast(run_log.process_started as timestamptz))
                      and (session.state = 'idle' or session.wait_event_type = 'Lock'));

update run_log
   set status = 'interrupted',
       finished_at = :now,
       error = 'the runner stopped before finishing (killed or crashed); nothing it did was kept'
 where run_id in (select run_id from interrupted_now);

insert into run_log (run_id, feed, kind, status, started_at, source, format, header, lookback_seconds, host, pid,
                     openlineage_run_id, process_started)
select coalesce(max(run_id), 0) + 1, :feed, :kind, 'running', :now, :source, :format, :header, :lookback_seconds,
       :host, :pid, :openlineage_run_id, :process_started
  from run_log
returning run_id;
