-- Moves the watermark to the newest event_ts loaded by this run; it never
-- moves backwards, and a run that loads nothing leaves it alone.
-- Reads: run_batch. Writes: watermark.
insert into watermark (target, value, run_id, updated_at)
select 'events', max(event_ts), :run_id, :now
  from run_batch
 where outcome = 'loaded'
having count(*) > 0
on conflict (target) do update
   set value = excluded.value,
       run_id = excluded.run_id,
       updated_at = excluded.updated_at
 where watermark.value is null or excluded.value > watermark.value;
