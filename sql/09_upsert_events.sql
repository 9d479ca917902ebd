-- Writes the surviving records into events. Stale data never wins: a record
-- not newer than the stored row for its key is marked 'stale' and left out,
-- and the upsert's WHERE guard enforces the same rule inside the write itself.
-- Reads: run_batch, events. Writes: run_batch.outcome, events.

update run_batch
   set outcome = 'stale',
       detail = 'events already holds a version from ' || stored.event_ts
  from events as stored
 where run_batch.outcome is null
   and stored.event_id = run_batch.event_id
   and stored.event_ts >= run_batch.event_ts;

update run_batch
   set outcome = 'loaded',
       detail = case when exists (select 1 from events e where e.event_id = run_batch.event_id)
                     then 'updated' else 'inserted' end
 where outcome is null;

insert into events (event_id, event_ts, user_id, amount, run_id, source, line_no)
select event_id, event_ts, user_id, amount, :run_id, source, line_no
  from run_batch
 where outcome = 'loaded'
on conflict (event_id) do update
   set event_ts = excluded.event_ts,
       user_id  = excluded.user_id,
       amount   = excluded.amount,
       run_id   = excluded.run_id,
       source   = excluded.source,
       line_no  = excluded.line_no
 where excluded.event_ts > events.event_ts;
