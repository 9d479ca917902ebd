-- The incremental part: records older than the watermark were dealt with by
-- an earlier run, so they are skipped without touching events. Records AT the
-- watermark are reconsidered (a late record sharing the watermark's second is
-- not lost); the upsert guard keeps that idempotent.
-- Reads: run_batch, :watermark (NULL before the first load: nothing skipped).
-- Writes: run_batch.outcome.
update run_batch
   set outcome = 'skipped',
       detail = 'older than the watermark ' || :watermark
 where outcome is null
   and event_ts < :watermark;
