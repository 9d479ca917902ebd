-- PostgreSQL's version of run/existing_columns.sql: the tables and views of the
-- schema the loader creates its tables in (the first of the search_path). Reads only.
select table_name, column_name
  from information_schema.columns
 where table_schema = current_schema()
 order by table_name, ordinal_position;
