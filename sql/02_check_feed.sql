-- Refuses a batch the feed cannot load, before the feed's views are built:
-- 1. an input without a column the feed reads: one message names every missing
--    column and the definition that reads them, instead of a SQL error;
-- 2. a target table that another feed writes (a copied definition whose table
--    was not renamed): two feeds in one table would skip and stale each other.
-- Reads: landing_columns (the input's header) and feed_input_columns (the
-- columns the feed declares it reads), both landed by the runner in order;
-- feeds (which feed writes which table, recorded by 12). Writes: run_refusal.
with recursive
missing as (
    select name, row_number() over (order by position) as n
      from feed_input_columns
     where not exists (select 1 from landing_columns where landing_columns.name = feed_input_columns.name)
),
missing_list (n, names) as (
    select n, '"' || name || '"' from missing where n = 1
    union all
    select missing.n, missing_list.names || ', "' || missing.name || '"'
      from missing_list join missing on missing.n = missing_list.n + 1
),
header_list (n, names) as (
    select position, name from landing_columns where position = 1
    union all
    select landing_columns.position, header_list.names || ', ' || landing_columns.name
      from header_list join landing_columns on landing_columns.position = header_list.n + 1
)
insert into run_refusal (reason)
select 'the input has no column' || case when (select count(*) from missing) > 1 then 's ' else ' ' end
       || (select names from missing_list order by n desc limit 1)
       || ', which the feed ' || :feed || ' reads (' || :feed_definition || '); its header has '
       || coalesce((select names from header_list order by n desc limit 1), 'no columns')
       || '. Fix the header, or load the input with a feed made for its columns '
       || '(--feed NAME; docs/feeds.md)'
 where exists (select 1 from missing);

insert into run_refusal (reason)
select 'the table ' || :target || ' is the target of the feed ' || feed || ' (' || definition
       || '), and ' || :feed_definition || ' declares it as the target of the feed ' || :feed
       || '. Give the feed ' || :feed || ' a table of its own (target in its declare section, and its '
       || 'target, records, upsert and trace sections); or, if it is the same feed, declare the name '
       || feed
  from feeds
 where target = :target
   and feed <> :feed;
