-- The incremental part: records older than the watermark were dealt with by
-- an earlier run, so they are skipped without touching events. Records AT the
-- watermark are reconsidered (a late record sharing the watermark's second is
-- not lost); the upsert guard keeps that idempotent. --lookback moves the
-- cut-off back to let late data in; a replay of dead letters skips nothing.
-- Reads: run_batch, run_context.skip_before (03; NULL: skip nothing).
-- Writes: run_batch.outcome.
update run_batch
   set outcome = 'skipped',
       detail = 'older than ' || (select skip_before from run_context)
                || case when :lookback_seconds > 0
                        then ' (the watermark ' || :watermark || ' minus the lookback)'
                        else ' (the watermark)' end
 where outcome is null
   and event_ts < (select skip_before from run_context);
