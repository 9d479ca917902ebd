-- Schema version 7: a fixed dead letter stays fixed, and a killed run is told
-- from a live process that was given its pid.
--
-- dead_letter.received_raw keeps the text as first rejected, which users
-- never update (they fix raw and replay): stage 06 recognises a rerun's
-- rejects by it, open or resolved. A dead letter written before holds the
-- only text there is, raw: one fixed before this upgrade has its fixed text
-- there, so the next rerun of its file files its original line once more (a
-- dead letter filed again before the upgrade is matched as it is).
-- The resolved dead letters --prune-history removes leave their match key in
-- dead_letter_pruned, which the schema stage creates.
--
-- run_log.process_started records when the run's process started (Linux's
-- /proc, PostgreSQL's backend_start) beside its pid: a run is dead when its
-- pid is gone, a zombie, or a process started at another time. NULL for the
-- runs recorded before: their pid alone decides, as it did.
-- Adding a column rewrites no row; received_raw is copied into every dead
-- letter (a table of rejects, not of every record).
alter table dead_letter add column received_raw text;
update dead_letter set received_raw = raw;
alter table run_log add column process_started text;
