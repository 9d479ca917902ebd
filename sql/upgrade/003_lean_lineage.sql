-- Schema version 3: lean lineage. Each record is now stored once per run
-- (run/lineage_layout.sql), and the view lineage shows every entry as before.
-- The entries written so far stay as they were written, ids and all: the
-- table is renamed, not rewritten, so the upgrade takes the same moment for a
-- year of history as for a day's. The view lineage reads both layouts (01).
-- Runs in the opening transaction under the run lock: an interrupted upgrade
-- changes nothing.
drop view if exists lineage_steps;
alter table lineage rename to lineage_before_v3;
