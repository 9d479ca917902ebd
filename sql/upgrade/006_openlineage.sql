-- Schema version 6: OpenLineage. A run reported to OpenLineage keeps the run
-- id its events carry, so an event and a row of run_log can be matched (and a
-- run found killed can be reported aborted under the id it started with).
-- NULL for a run that was not reported. Adding a column rewrites no row.
alter table run_log add column openlineage_run_id text;
