-- Fixes the run's time limits and refuses to run on a corrupted watermark: a
-- bad value would silently skip (or let through) whole batches.
-- Reads: watermark, :now. Writes: run_context, run_refusal.

-- Timestamps more than this far after the run's clock are "in the future".
-- Change the modifier to change the tolerance (SQLite date modifier syntax).
drop table if exists run_context;
create temp table run_context as
select :now as run_at,
       strftime('%Y-%m-%dT%H:%M:%S', :now, '+5 minutes') as future_limit;

insert into run_refusal (reason)
select 'the watermark for events is '
       || coalesce('''' || value || '''', 'NULL')
       || ', which is not '
       || case when strftime('%Y-%m-%dT%H:%M:%S', value) = value
               then 'in the past (the run''s clock is ' || :now || ')'
               else 'a timestamp like 2025-01-15T12:00:00' end
       || '. Nothing was loaded. Run: python runner.py --repair-watermark'
  from watermark
 where target = 'events'
   and (value is null
        or strftime('%Y-%m-%dT%H:%M:%S', value) is not value
        or datetime(value, '+0 seconds') is not datetime(value)
        or value > (select future_limit from run_context));
