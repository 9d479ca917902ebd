-- Schema version 4: late data. A run records how many of the records it
-- skipped by the watermark would have changed the feed's target (stage 07),
-- and the oldest one's timestamp. Runs recorded before it have NULL there:
-- nobody counted. Adding a column rewrites no row, on either engine.
alter table run_log add column late_skipped integer;
alter table run_log add column oldest_late text;
