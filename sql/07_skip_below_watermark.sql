-- The incremental part: records older than the feed's watermark were dealt
-- with by an earlier run, so they are skipped without touching the target.
-- Records AT the watermark are reconsidered (a late record sharing the
-- watermark's second is not lost); the upsert guard keeps that idempotent.
-- --lookback moves the cut-off back to let late data in; a replay of dead
-- letters skips nothing.
-- Reads: run_batch, run_context.skip_before (03; NULL: skip nothing).
-- Writes: run_batch._outcome.
update run_batch
   set _outcome = 'skipped',
       _detail = 'older than ' || (select skip_before from run_context)
                 || case when :lookback_seconds > 0
                         then ' (the watermark ' || :watermark || ' minus the lookback)'
                         else ' (the watermark)' end
 where _outcome is null
   and _ts < (select skip_before from run_context);
