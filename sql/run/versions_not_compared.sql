-- The stored versions as stages 07 and 09 read them, for a feed whose versions section
-- does not compare values (a definition written before corrections): a record at the
-- stored version counts as the same (stale), as it always did, and the stored row is
-- of the earliest delivery. Run right after the feed's versions section; a table read
-- by both stages, as in versions_compared.sql.
drop table if exists stored_compared;
create temp table stored_compared as
select stored_versions.*,
       cast(null as integer) as _same,
       cast(null as integer) as _run_id,
       cast(null as text) as _source
  from stored_versions;
