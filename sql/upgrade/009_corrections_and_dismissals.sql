-- Schema version 9: corrections at the same version, and dead letters dismissed.
--
-- run_log.differing and corrected count a run's records at the stored version
-- with other values: not applied, or applied as a later delivery's correction;
-- a run recorded before had none (0 where it recorded counts). dead_letter
-- gains dismissed_at and dismiss_reason (status 'dismissed'). The tables
-- delivery and run_file, the view closed_dead_letters and lineage's outcomes
-- 'differing' and 'corrected' are made by the schema stage, as in a new
-- database: a row stored before has no delivery, and counts as the earliest.
-- (A file loaded before was never hashed: loaded again, it is a new delivery.)
alter table run_log add column differing integer;
alter table run_log add column corrected integer;
update run_log set differing = 0, corrected = 0 where loaded is not null;
alter table dead_letter add column dismissed_at text;
alter table dead_letter add column dismiss_reason text;
