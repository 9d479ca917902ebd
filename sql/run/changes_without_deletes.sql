-- The feed's records as the stages read them, for a feed that declares no deletes (as
-- every feed before deletes existed): none of its records is a deletion. Run right
-- after the feed's records section (changes_with_deletes.sql: a feed that has them).
drop view if exists feed_changes;
create temp view feed_changes as
select feed_records.*, 0 as _delete
  from feed_records;
