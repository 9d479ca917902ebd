-- Moves the feed's watermark to the newest timestamp loaded (or deleted) by this
-- run; it never moves backwards, and a run that loads nothing leaves it alone.
-- Reads: run_batch. Writes: watermark.
insert into watermark (feed, value, run_id, updated_at)
select :feed, max(_ts), :run_id, :now
  from run_batch
 where _outcome in ('loaded', 'deleted')
having count(*) > 0
on conflict (feed) do update
   set value = excluded.value,
       run_id = excluded.run_id,
       updated_at = excluded.updated_at
 where watermark.value is null or excluded.value > watermark.value;
