-- The feed's records as the stages read them, for a feed that declares deletes: its
-- records section gives _delete, 1 for a record that deletes its key. Run right after
-- the feed's records section (changes_without_deletes.sql: a feed that has none).
drop view if exists feed_changes;
create temp view feed_changes as
select *
  from feed_records;
