-- Refuses to run on a corrupted watermark: a value that is not a timestamp
-- compares as text and would silently skip (or let through) whole batches.
-- Reads: run_context (03), the feed's watermark. Writes: run_refusal.
insert into run_refusal (reason)
select 'the watermark for ' || :feed || ' is '
       || coalesce('''' || watermark || '''', 'NULL')
       || ', which is not '
       || case when watermark_utc = watermark
               then 'in the past (the run''s clock is ' || run_at || '). Nothing was loaded. '
                    || 'If --now pins the clock, pin it later; if the watermark is wrong, '
                    || 'run: ' || :runner || ' --repair-watermark ' || :runner_options || :command_note
               else 'a timestamp like 2025-01-15T12:00:00. Nothing was loaded. '
                    || 'Run: ' || :runner || ' --repair-watermark ' || :runner_options || :command_note end
  from run_context
 where exists (select 1 from watermark where feed = :feed)
   and (watermark_utc is null
        or watermark_utc <> watermark
        or watermark > future_limit);
