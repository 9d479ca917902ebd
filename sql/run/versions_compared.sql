-- The stored versions as stages 07 and 09 read them, for a feed whose versions section
-- gives _same (the record's values equal the stored row's) and the stored row's
-- provenance (_run_id, _source: its delivery). (versions_not_compared.sql: one that
-- does not.) Run right after the feed's versions section.
-- A table, filled once in one pass in key order (the batch's order and the target's):
-- 07 reads the skipped records' versions and 09 the loaded ones', and as a view each
-- read the whole join again (a rerun of a million: 2.2 s in 09 for nothing; notes.md, 61).
-- A record that 08 later supersedes stays in it; 09 reads only the loaded records'.
drop table if exists stored_compared;
create temp table stored_compared as
select *
  from stored_versions;
