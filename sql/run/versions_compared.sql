-- The stored versions as stages 07 and 09 read them, for a feed whose versions section
-- gives _same (the record's values equal the stored row's) and the stored row's
-- provenance (_run_id, _source: its delivery). (versions_not_compared.sql: one that
-- does not.) Run right after the feed's versions section.
drop view if exists stored_compared;
create temp view stored_compared as
select *
  from stored_versions;
