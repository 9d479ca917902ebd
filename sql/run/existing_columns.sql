-- Every table's and view's columns, to tell a database another program wrote
-- (its own events or watermark table) from one the loader can use: read before
-- the loader creates anything in a database without its schema_version
-- (loader/foreign_tables.py). Reads only.
select m.name as table_name, c.name as column_name
  from sqlite_master as m
  join pragma_table_info(m.name) as c
 where m.type in ('table', 'view')
 order by m.name, c.cid;
