-- Schema version 8: deletes carried in a feed (docs/feeds.md, Deletes).
--
-- run_log.deleted counts the deletions a run applied; a run recorded before
-- had none (0 where the run recorded its counts, NULL where it did not). The
-- tombstone table, which remembers each deleted key at its deletion's version,
-- and lineage's outcome 'deleted' are made by the schema stage, as in a new
-- database. Adding a column rewrites no row.
alter table run_log add column deleted integer;
update run_log set deleted = 0 where loaded is not null;
